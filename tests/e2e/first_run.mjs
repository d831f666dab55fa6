// A newcomer's first minutes: parley says what is missing before anyone
// speaks (start-up log, `ready`, /health), notices when it is fixed, and
// `parley doctor` checks a set-up line by line with the fix.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, run, assert, startFakeLlm, startParley, freePort, Client, parleyBin, tmpDir } from './lib.mjs';

async function health(p) {
  const r = await fetch(`${p.http}/health`);
  return { status: r.status, json: await r.json() };
}

// Runs `parley doctor` with the environment and arguments given.
function doctor(env, args = []) {
  return new Promise((resolve) => {
    execFile(parleyBin, ['doctor', ...args], { env: { ...process.env, ...env }, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

const lineOf = (out, what) => out.split('\n').find((l) => l.slice(2).startsWith(`${what}:`)) || '';

test('no LLM server: start-up says so in plain words, ready carries the fix, /health too', async () => {
  const port = await freePort(); // nothing listens there
  const p = await startParley({ env: { PARLEY_LLM_URL: `http://127.0.0.1:${port}` } });
  await p.waitLog(/LLM: nothing answers at http:\/\/127\.0\.0\.1:\d+ \(Ollama\).*Fix: install Ollama.*ollama pull mistral/);
  // The engines in use, and what would make them better.
  assert(/ASR: pocketsphinx, asr\.engine auto: no Whisper model .*parley models pull tiny\.en/.test(p.log()), p.log());
  assert(/TTS: flite,espeak/.test(p.log()), p.log());
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  assert(ready.llm.checked === true && ready.llm.ok === false && ready.llm.reachable === false, JSON.stringify(ready.llm));
  assert(/ollama pull mistral/.test(ready.llm.fix) && /nothing answers/.test(ready.llm.problem), JSON.stringify(ready.llm));
  const h = await health(p);
  assert(h.status === 503 && h.json.status === 'degraded' && h.json.llm.ok === false && /ollama/.test(h.json.llm.fix), JSON.stringify(h.json));
  c.close();
  await p.stop();
});

test('a server without the model: the exact pull command and the models it has', async () => {
  const llm = await startFakeLlm(['--models', 'llama3.2:latest,qwen3:4b']);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  await p.waitLog(/has no model 'mistral' \(it has: llama3\.2:latest, qwen3:4b\)\. Fix: ollama pull mistral /);
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  assert(ready.llm.reachable === true && ready.llm.model_found === false && ready.llm.fix === 'ollama pull mistral', JSON.stringify(ready.llm));
  assert(ready.llm.models === 'llama3.2:latest, qwen3:4b', JSON.stringify(ready.llm));
  // The model it has is fine: a model given with its tag, or without ":latest".
  const p2 = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_LLM_MODEL: 'llama3.2' } });
  await p2.waitLog(/LLM: ollama at .* answers with model llama3\.2/);
  c.close();
  await p.stop();
  await p2.stop();
  llm.stop();
});

test('an OpenAI-compatible server without the model: which setting to change', async () => {
  const llm = await startFakeLlm(['--models', 'qwen2.5-7b']);
  const p = await startParley({
    env: { PARLEY_LLM_PROVIDER: 'openai', PARLEY_LLM_URL: `${llm.base}/v1`, PARLEY_LLM_MODEL: 'gpt-4o' },
  });
  await p.waitLog(/has no model 'gpt-4o' \(it has: qwen2\.5-7b\)\. Fix: set llm\.model \(PARLEY_LLM_MODEL\)/);
  await p.stop();
  llm.stop();
});

test('the LLM comes back: said once, and connected clients are told; a later failure is told too', async () => {
  const port = await freePort();
  const p = await startParley({
    env: { PARLEY_LLM_URL: `http://127.0.0.1:${port}` },
    args: ['--set', 'llm.check_interval_s=1'],
  });
  await p.waitLog(/LLM: nothing answers/);
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  assert(ready.llm.ok === false, JSON.stringify(ready.llm));
  // Ollama starts (the test server on the very port parley checks).
  const llm = await startFakeLlm(['--port', String(port)]);
  const back = await c.waitFor('llm_status', (m) => m.llm.ok === true, 10000);
  assert(back.llm.model === 'mistral' && !back.llm.problem, JSON.stringify(back));
  await p.waitLog(/answers with model mistral again/);
  // A turn works now.
  await llm.script([{ text: 'Hello again.' }]);
  c.send({ type: 'text', text: 'Are you there?' });
  await c.waitFor('done', () => true, 15000);
  const log = p.log();
  assert((log.match(/nothing answers/g) || []).length === 1, `the problem is logged once, not every second:\n${log}`);
  assert((log.match(/answers with model mistral again/g) || []).length === 1, 'the return is logged once');
  // Ollama goes away: the next turn fails, and the client learns why.
  llm.stop();
  const from = c.events.length;
  c.send({ type: 'text', text: 'Still there?' });
  await c.waitFor('error', (m) => m.code === 'LLM_FAIL', 15000, from);
  const gone = await c.waitFor('llm_status', (m) => m.llm.ok === false, 10000, from);
  assert(/nothing answers/.test(gone.llm.problem), JSON.stringify(gone));
  c.close();
  await p.stop();
});

test('parley doctor on a good set-up: every line checked, exit 0', async () => {
  const llm = await startFakeLlm();
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'doctor-'));
  const r = await doctor({ PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir }, ['--listen', `127.0.0.1:${port}`]);
  assert(r.code === 0, `exit ${r.code}:\n${r.stdout}${r.stderr}`);
  for (const what of ['config', 'LLM server', 'LLM model', 'speech recognition', 'speech detection', 'speech synthesis', 'data dir', 'listen', 'web client'])
    assert(lineOf(r.stdout, what).startsWith('✓'), `${what} passes:\n${r.stdout}`);
  assert(!r.stdout.includes('✗'), r.stdout);
  assert(/✓ LLM model: mistral is there/.test(r.stdout) && /✓ speech synthesis: flite, espeak speak/.test(r.stdout), r.stdout);
  assert(/Everything a spoken turn needs is there/.test(r.stdout), r.stdout);
  // Run beside a live server, the port in use is that server's: fine.
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const beside = await doctor({ PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: p.dataDir }, ['--listen', `127.0.0.1:${p.port}`]);
  assert(beside.code === 0 && /✓ listen: parley is already serving/.test(beside.stdout), beside.stdout);
  await p.stop();
  llm.stop();
});

test('parley doctor on a broken set-up: each problem with its fix, exit 1', async () => {
  const llm = await startFakeLlm(['--models', 'llama3.2:latest']);
  // The port is taken by something that is not parley.
  const squatter = net.createServer((s) => s.destroy());
  await new Promise((r) => squatter.listen(0, '127.0.0.1', r));
  const notADir = path.join(tmpDir, 'a-file');
  fs.writeFileSync(notADir, 'not a folder');
  const r = await doctor({ PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: notADir }, ['--listen', `127.0.0.1:${squatter.address().port}`]);
  assert(r.code === 1, `exit ${r.code}:\n${r.stdout}`);
  assert(lineOf(r.stdout, 'LLM server').startsWith('✓'), r.stdout);
  assert(/^✗ LLM model: Ollama at .* has no model 'mistral' \(it has: llama3\.2:latest\) — fix: ollama pull mistral$/m.test(r.stdout), r.stdout);
  assert(/^✗ data dir: .* — fix: set data_dir \(PARLEY_DATA_DIR\)/m.test(r.stdout), r.stdout);
  assert(/^✗ listen: cannot listen on 127\.0\.0\.1:\d+: Address already in use — fix: stop what uses it/m.test(r.stdout), r.stdout);
  assert(/Something a spoken turn needs is missing/.test(r.stdout), r.stdout);
  squatter.close();
  // No LLM at all: the server line fails and the model is not guessed at.
  const dead = await freePort();
  const r2 = await doctor({ PARLEY_LLM_URL: `http://127.0.0.1:${dead}`, PARLEY_DATA_DIR: fs.mkdtempSync(path.join(tmpDir, 'doc-')) });
  assert(r2.code === 1 && /^✗ LLM server: nothing answers/m.test(r2.stdout) && /^- LLM model: not checked/m.test(r2.stdout), r2.stdout);
  llm.stop();
});

await run();
