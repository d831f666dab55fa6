// Which recogniser hears: asr.engine auto picks Whisper when its model is
// downloaded and pocketsphinx (saying why) when not; a damaged model stops
// start-up instead of hiding behind a fallback. The hybrid mode: partials
// (and barge-in's words) from pocketsphinx, the final from Whisper. Whisper
// runs on whisper.cpp's structure-valid test model: it decodes, its words
// mean nothing (on speech it writes nothing), which is what tells the two
// engines' transcripts apart here.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { test, run, assert, Skip, startFakeLlm, startParley, Client, makeSpeech, tmpDir, root, parleyBin } from './lib.mjs';
import { writeRandomWhisperModel } from '../fixtures/whisper_random_model.mjs';

const shared = path.resolve(root, '../shared/data');
const testModel = path.join(shared, 'whisper-for-tests-tiny.en.bin');
const haveWhisper = process.env.PARLEY_HAVE_WHISPER !== '0';

// A data dir whose models folder holds `bytes` as tiny.en (or nothing).
function dataDir(bytes) {
  const d = fs.mkdtempSync(path.join(tmpDir, 'asr-'));
  if (bytes) {
    fs.mkdirSync(path.join(d, 'models'));
    fs.writeFileSync(path.join(d, 'models', 'ggml-tiny.en.bin'), bytes);
  }
  return d;
}

async function readyOf(p) {
  const c = new Client(p.url);
  await c.open();
  await c.start();
  const ready = c.messages('ready')[0];
  c.close();
  return ready;
}

test('asr.engine auto: Whisper when its model is downloaded, otherwise pocketsphinx and why; a damaged model stops start-up', async () => {
  const llm = await startFakeLlm();
  const env = { PARLEY_LLM_URL: llm.base };

  let p = await startParley({ env: { ...env, PARLEY_DATA_DIR: dataDir(null) } });
  let ready = await readyOf(p);
  assert(ready.asr.engine === 'pocketsphinx', JSON.stringify(ready.asr));
  const why = haveWhisper ? /no Whisper model .*run `parley models pull tiny\.en`/ : /no whisper\.cpp/;
  assert(why.test(p.log()), p.log());
  await p.stop();

  if (!haveWhisper) {
    llm.stop();
    throw new Skip('this build has no whisper.cpp: only the fallback is checked');
  }
  const model = fs.readFileSync(testModel);
  const withModel = dataDir(model);
  p = await startParley({ env: { ...env, PARLEY_DATA_DIR: withModel } });
  ready = await readyOf(p);
  assert(ready.asr.engine === 'whisper' && ready.asr.partials === 'pocketsphinx', JSON.stringify(ready.asr));
  assert(/ASR: whisper \(partials: pocketsphinx\), asr\.engine auto: the Whisper model tiny\.en is at/.test(p.log()), p.log());
  const health = await (await fetch(`${p.http}/health`)).json();
  assert(health.asr.engine === 'whisper' && health.asr.partials === 'pocketsphinx', JSON.stringify(health.asr));
  await p.stop();

  // Asked for by name, an engine is used even when auto would choose another.
  p = await startParley({ env: { ...env, PARLEY_DATA_DIR: withModel, PARLEY_ASR: 'pocketsphinx' } });
  ready = await readyOf(p);
  assert(ready.asr.engine === 'pocketsphinx' && ready.asr.partials === 'pocketsphinx', JSON.stringify(ready.asr));
  await p.stop();
  p = await startParley({ env: { ...env, PARLEY_DATA_DIR: withModel, PARLEY_ASR_PARTIALS: 'off' } });
  ready = await readyOf(p);
  assert(ready.asr.engine === 'whisper' && ready.asr.partials === 'off', JSON.stringify(ready.asr));
  await p.stop();

  // A damaged model is an error that says how to fix it, not a quiet fallback.
  const damaged = spawnSync(parleyBin, ['serve', '--listen', '127.0.0.1:1'], {
    env: { ...process.env, ...env, PARLEY_DATA_DIR: dataDir(model.subarray(0, 4096)) },
    encoding: 'utf8',
  });
  assert(damaged.status !== 0 && /damaged/.test(damaged.stderr) && /parley models pull tiny\.en/.test(damaged.stderr), damaged.stderr);
  const bad = spawnSync(parleyBin, ['serve', '--listen', '127.0.0.1:1'], {
    env: { ...process.env, ...env, PARLEY_DATA_DIR: withModel, PARLEY_ASR_PARTIALS: 'sometimes' },
    encoding: 'utf8',
  });
  assert(bad.status !== 0 && /asr\.partials/.test(bad.stderr), bad.stderr);
  llm.stop();
});

test('hybrid: partials and barge-in from pocketsphinx, the final from Whisper', async () => {
  if (!haveWhisper) throw new Skip('this build has no whisper.cpp');
  const llm = await startFakeLlm();
  await llm.script([{ text: 'The ocean covers most of the planet. It holds countless creatures, large and small. Whales sing.', token_ms: 60 }]);
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir(fs.readFileSync(testModel)) },
    // The untrained model decodes slowly on a busy machine; barge-in waits
    // for two words, which only partials can give before the utterance ends.
    args: ['--set', 'asr.final_timeout_ms=30000', '--set', 'barge_in.min_words=2'],
  });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  await c.streamAudio(makeSpeech('Turn on the kitchen lights.'));
  const final = await c.waitFor('transcript_final', (m) => m.turn === 1, 30000);
  const partials = c.messages('transcript_partial').map((m) => m.text);
  assert(partials.some((t) => /kitchen|lights/.test(t)), `pocketsphinx's partials: ${JSON.stringify(partials)}`);
  // The test model writes nothing on speech: the final is Whisper's, not
  // pocketsphinx's words.
  assert(final.text === '', `Whisper's final: "${final.text}"`);
  assert(!c.messages('error').length, JSON.stringify(c.messages('error')));

  // Barge-in acting on pocketsphinx's words while Whisper has said nothing.
  c.send({ type: 'text', text: 'Tell me about the ocean.' });
  await c.waitUntil(() => c.events.find((e) => e.binary), 15000, 'first reply audio');
  const streaming = c.streamAudio(makeSpeech('Wait, what time is it in London?', { padBefore: 0.2 }));
  const intr = await c.waitFor('agent_interrupted', () => true, 15000);
  const at = c.events.findIndex((e) => e.msg === intr);
  const finalAfter = c.events.findIndex((e, i) => e.msg && e.msg.type === 'transcript_final' && e.msg.turn > 1 && i > 0);
  assert(finalAfter < 0 || finalAfter > at, 'interrupted by partial words, before the final');
  await streaming;
  c.close();
  await p.stop();
  llm.stop();
});

test('asr.partials off: no partial decodes, finals as before', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_ASR: 'pocketsphinx', PARLEY_ASR_PARTIALS: 'off' } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  await c.streamAudio(makeSpeech('Turn on the kitchen lights.'));
  const final = await c.waitFor('transcript_final', (m) => m.turn === 1, 15000);
  assert(/kitchen/.test(final.text), final.text);
  assert(c.messages('transcript_partial').length === 0, JSON.stringify(c.messages('transcript_partial')));
  c.close();
  await p.stop();
  llm.stop();
});

// whisper.cpp's own command line, built by setup from the same source.
const whisperCli = path.join(process.env.PARLEY_WHISPER_PREFIX || '/opt/parley/whisper-1.9.1', 'bin/whisper-cli');

test("parity: parley's Whisper transcript is whisper-cli's, same audio, model and parameters", async () => {
  if (!haveWhisper) throw new Skip('this build has no whisper.cpp');
  if (!fs.existsSync(whisperCli)) throw new Skip(`no ${whisperCli} (scripts/setup.sh --tests builds it)`);
  // Random weights make whisper.cpp write words that hang on every sample
  // and parameter: one sample off, or an encoder window one position
  // longer, and the words change.
  const model = path.join(tmpDir, 'whisper-random.bin');
  writeRandomWhisperModel(testModel, model);
  const wav = path.join(tmpDir, 'jfk-3s.wav');
  const floatWav = path.join(tmpDir, 'jfk-3s-float.wav');
  spawnSync('sox', [path.join(shared, 'jfk.wav'), wav, 'trim', '0', '3'], { stdio: 'inherit' });
  spawnSync('sox', [wav, '-e', 'floating-point', '-b', '32', floatWav], { stdio: 'inherit' });
  // parley's encoder window: 50 positions a second of audio, plus 64.
  const audioCtx = Math.ceil((3 * 16000 * 50) / 16000) + 64;
  const cli = spawnSync(whisperCli, ['-m', model, '-f', wav, '-t', '2', '-l', 'en', '-nt', '-bs', '1', '-sns', '-np', '-ac', String(audioCtx)], {
    encoding: 'utf8',
  });
  assert(cli.status === 0, cli.stderr);
  const env = { ...process.env, PARLEY_ASR: 'whisper', PARLEY_ASR_PARTIALS: 'off', STREAM_MODEL_WHISPER: model };
  const norm = (t) => t.replace(/\s+/g, ' ').trim();
  const expect = norm(cli.stdout);
  assert(expect.split(' ').length >= 5, `whisper-cli wrote words: "${expect}"`);
  for (const file of [wav, floatWav]) {
    const ours = spawnSync(parleyBin, ['transcribe', '--raw', file], { env, encoding: 'utf8' });
    assert(ours.status === 0, ours.stderr);
    assert(norm(ours.stdout) === expect, `${path.basename(file)}:\nparley:      ${norm(ours.stdout).slice(0, 200)}\nwhisper-cli: ${expect.slice(0, 200)}`);
  }
});

// scripts/fetch-model.sh as setup runs it, with parley's build beside it.
function fetchModel(env) {
  return new Promise((resolve) => {
    const child = spawn(path.join(root, 'scripts/fetch-model.sh'), [], {
      env: { ...process.env, BUILD: path.dirname(parleyBin), ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test("setup's model step: offline it says in one line that it skipped; online it pulls with progress", async () => {
  const data = fs.mkdtempSync(path.join(tmpDir, 'setup-'));
  const closed = await new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
  const offline = await fetchModel({ PARLEY_DATA_DIR: data, PARLEY_MODELS_URL: `http://127.0.0.1:${closed}` });
  assert(offline.code === 0, `setup goes on: ${offline.code}`);
  const skipped = offline.out.split('\n').filter((l) => /skipped the Whisper model tiny\.en/.test(l));
  assert(skipped.length === 1 && /models pull tiny\.en/.test(skipped[0]), offline.out);
  assert(!/^parley:/m.test(offline.out), `parley's error is inside the one line: ${offline.out}`);
  assert(!fs.existsSync(path.join(data, 'models/ggml-tiny.en.bin')), 'nothing pulled');
  assert(!fs.existsSync(path.join(data, 'models/ggml-tiny.en.bin.part')), 'no empty .part left to "resume"');
  assert(/cannot download .*no network\?/.test(skipped[0]), skipped[0]);

  // Online: the real Silero weights stand in for the model (their SHA-1 is
  // the published one, which the test Whisper model's is not).
  const silero = fs.readFileSync(path.join(shared, 'silero-v6.2.0-ggml.bin'));
  const srv = http.createServer((req, res) => {
    if (req.url !== '/ggml-org/whisper-vad/resolve/main/ggml-silero-v6.2.0.bin') return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Length': silero.length }).end(silero);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const env = { PARLEY_DATA_DIR: data, PARLEY_MODELS_URL: `http://127.0.0.1:${srv.address().port}`, PARLEY_SETUP_MODEL: 'silero-v6.2.0' };
  const online = await fetchModel(env);
  assert(online.code === 0 && /100%/.test(online.out) && /verified/.test(online.out), online.out);
  assert(fs.existsSync(path.join(data, 'models/silero-v6.2.0-ggml.bin')), 'pulled');
  const again = await fetchModel(env);
  assert(/is there/.test(again.out), again.out);
  srv.close();
});

run();
