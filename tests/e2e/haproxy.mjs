// Beyond one machine: two parley instances behind HAProxy (Debian's) with the
// shipped deploy/haproxy.cfg (only its addresses changed): sessions land on
// both, a stopped instance is taken out by the /health/ready check, and new
// sessions then all go to the other.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, run, assert, startFakeLlm, startParley, freePort, Client, root, tmpDir } from './lib.mjs';

const haproxyBin = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => fs.existsSync(p));

async function load(p) {
  return (await (await fetch(`${p.http}/health/ready`)).json()).load;
}

// The backends' states as HAProxy's stats page lists them (CSV).
async function backendStates(statsPort) {
  const csv = await (await fetch(`http://127.0.0.1:${statsPort}/;csv`)).text();
  const states = {};
  for (const line of csv.split('\n')) {
    const f = line.split(',');
    if (f[0] === 'parleys' && f[1] !== 'BACKEND' && f[1] !== 'FRONTEND') states[f[1]] = f[17];
  }
  return states;
}

async function until(what, fn, timeoutMs = 20000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200)); // polling HAProxy's view: it has no events to wait on
  }
}

async function session(url) {
  const c = new Client(url);
  await c.open();
  const ready = await c.start();
  return { c, ready };
}

test('two instances behind HAProxy: sessions on both; one stops, new sessions go to the other', async () => {
  assert(haproxyBin, 'haproxy is installed (scripts/setup.sh --tests)');
  const llm = await startFakeLlm();
  await llm.script([], { text: 'Hello from behind the proxy.', ttft_ms: 20, token_ms: 5 });
  // Sessions open back to back here: the per-second admission limit is not
  // what this test is about.
  const fast = ['--set', 'limits.max_new_sessions_per_s=8'];
  const a = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: fast });
  const b = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: fast });
  const front = await freePort();
  const stats = await freePort();
  const cfg = fs
    .readFileSync(path.join(root, 'deploy/haproxy.cfg'), 'utf8')
    .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${front}`)
    .replace('server a 127.0.0.1:8081', `server a 127.0.0.1:${a.port}`)
    .replace('server b 127.0.0.1:8082', `server b 127.0.0.1:${b.port}`)
    .replace('bind 127.0.0.1:8404', `bind 127.0.0.1:${stats}`);
  const cfgFile = path.join(tmpDir, 'haproxy.cfg');
  fs.writeFileSync(cfgFile, cfg);
  const check = spawnSync(haproxyBin, ['-c', '-f', cfgFile], { encoding: 'utf8' });
  assert(check.status === 0, `the config is valid: ${check.stdout}${check.stderr}`);
  const hap = spawn(haproxyBin, ['-db', '-f', cfgFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await until('both instances up', async () => {
      const s = await backendStates(stats).catch(() => ({}));
      return s.a === 'UP' && s.b === 'UP';
    });
    const url = `ws://127.0.0.1:${front}/ws`;
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await session(url));
    const [la, lb] = [await load(a), await load(b)];
    assert(la.sessions > 0 && lb.sessions > 0 && la.sessions + lb.sessions === 6, `spread: a ${la.sessions}, b ${lb.sessions}`);
    // A turn through the proxy.
    first[0].c.send({ type: 'text', text: 'Hello?' });
    await first[0].c.waitFor('done', () => true, 15000);
    assert(first[0].c.messages('assistant_text').some((m) => m.status === 'end' && m.text.includes('proxy')), 'answered');
    // Instance a stops; its sessions are told and closed; HAProxy takes it out.
    await a.stop();
    await until('a marked down', async () => (await backendStates(stats)).a?.startsWith('DOWN'));
    const before = (await load(b)).sessions;
    const later = [];
    for (let i = 0; i < 4; i++) later.push(await session(url));
    assert((await load(b)).sessions === before + 4, 'every new session is on b');
    for (const s of [...first, ...later]) s.c.close();
  } finally {
    hap.kill('SIGTERM');
    await b.stop();
    llm.stop();
  }
});

await run();
