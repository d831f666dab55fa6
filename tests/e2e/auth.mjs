// Users, tokens and TLS end to end: every route refuses anonymous and wrong
// tokens, two users' data stay apart (memories, recall, conversations,
// tables), a user removed or re-keyed while connected is refused, a
// database made by release 0.1.0 migrates into the local user, https and
// wss with a self-signed certificate carry a spoken turn, and bad input
// (malformed headers, huge tokens, a guessing burst) is refused cleanly.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
  test, run, assert, startFakeLlm, startParley, parleyBin, root, tmpDir, Client, makeSpeech, silence, concat, freePort,
} from './lib.mjs';

function cli(dataDir, ...args) {
  return execFileSync(parleyBin, args, {
    env: { ...process.env, PARLEY_DATA_DIR: dataDir }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
}
const addUser = (dataDir, name) => cli(dataDir, 'users', 'add', name).trim().split('\n').pop();
const newToken = (dataDir, name) => cli(dataDir, 'users', 'token', name).trim().split('\n').pop();

// One HTTP(S) request: {status, headers, json, text}.
function request(base, method, route, { token, body, headers = {}, ca, servername } = {}) {
  const url = new URL(route, base);
  const mod = url.protocol === 'https:' ? https : http;
  const data = body === undefined ? null : Buffer.from(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method, ca, ...(servername ? { servername } : {}),
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(data ? { 'Content-Length': data.length } : {}), // parley reads no chunked bodies
        ...headers,
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// Polls until check() is true: the server re-reads users on its own, and
// this is how a client would notice. Bounded; no fixed sleeps.
async function eventually(check, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`never: ${what}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50)); // a poll interval, not a synchronisation
  }
}

const PROTECTED = [
  ['GET', '/v1/conversations'], ['GET', '/v1/conversations/abc'], ['GET', '/v1/memories'], ['GET', '/v1/memories?q=x'],
  ['DELETE', '/v1/memories/1'], ['POST', '/v1/chat', { text: 'hi' }], ['POST', '/v1/voice/upload?sample_rate=16000', 'xxxx'],
  ['GET', '/v1/audio/a123.wav'], ['GET', '/metrics'],
];

async function refusedEverywhere(base, token, opts = {}, except = []) {
  for (const [method, route, body] of PROTECTED.filter(([, r]) => !except.includes(r))) {
    const r = await request(base, method, route, { token, body, ...opts });
    assert(r.status === 401, `${method} ${route} with ${token ? 'a wrong token' : 'no token'}: ${r.status} ${r.text}`);
    assert(r.json?.error?.code === 'UNAUTHORIZED', `${route}: a JSON error: ${r.text}`);
    assert(/Bearer/.test(r.headers['www-authenticate'] || ''), `${route}: WWW-Authenticate`);
  }
}

// Opens a WebSocket, sends start (with extra fields), and returns the
// client once ready or refused.
async function wsStart(url, extra = {}, wsOptions = {}) {
  const c = new Client(url, wsOptions);
  await c.open();
  c.send({ type: 'start', sample_rate: 16000, format: 'pcm_s16le', ...extra });
  await c.waitUntil(() => c.messages('ready')[0] || c.messages('error')[0], 10000, 'ready or error');
  return c;
}

async function refusedWs(url, extra, wsOptions, why) {
  const c = await wsStart(url, extra, wsOptions);
  const e = c.messages('error')[0];
  assert(e && e.code === 'UNAUTHORIZED' && e.recoverable === false, `${why}: UNAUTHORIZED: ${JSON.stringify(c.messages())}`);
  await c.waitClosed();
  assert(!c.messages('ready').length, `${why}: no ready`);
}

test('tokens on every route, users kept apart, removal and rotation', async () => {
  const llm = await startFakeLlm();
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'auth-'));
  const annToken = addUser(dataDir, 'ann');
  assert(/^pt_[A-Za-z0-9_-]{43}$/.test(annToken), `a token is the last line: ${annToken}`);
  // (this test sends many wrong tokens on purpose; the brake has its own test)
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir, PARLEY_AUTH: 'on',
    PARLEY_AUTH_MAX_FAILURES: '1000' } });
  assert(/auth: on \(auth.mode on\): 2 user\(s\), 1 with a token/.test(p.log()), 'start-up says auth is on and who exists');
  // bob is added while the server runs
  const bobToken = addUser(dataDir, 'bob');
  await eventually(async () => (await request(p.http, 'GET', '/v1/conversations', { token: bobToken })).status === 200,
    'bob, added while serving, is let in');
  let dup = null;
  try {
    cli(dataDir, 'users', 'add', 'ann');
  } catch (e) {
    dup = e;
  }
  assert(dup && dup.status === 1 && /exists/.test(dup.stderr), 'a name is taken once');

  await refusedEverywhere(p.http, null);
  await refusedEverywhere(p.http, 'pt_wrongwrongwrong');
  // malformed Authorization headers are wrong tokens, never a crash
  for (const h of ['Basic YW5uOnB3', 'Bearer', 'Bearer  ', `Bearer ${'x'.repeat(200)}`, annToken]) {
    const r = await request(p.http, 'GET', '/v1/memories', { headers: { Authorization: h } });
    assert(r.status === 401, `Authorization: ${h.slice(0, 20)}…: ${r.status}`);
  }
  const huge = await request(p.http, 'GET', '/v1/memories', { headers: { Authorization: `Bearer ${'y'.repeat(100 * 1024)}` } })
    .catch((e) => ({ status: 'closed', text: String(e) }));
  assert(huge.status !== 200, `a 100 KiB token is refused (${huge.status})`);
  // liveness and readiness answer bare
  const health = await request(p.http, 'GET', '/health');
  assert(health.status === 200 && health.json.status === 'alive' && health.json.auth_required === true && !health.json.llm,
    `bare /health: ${health.text}`);
  const ready = await request(p.http, 'GET', '/health/ready');
  assert(ready.status === 200 && ready.json.ready === true && !ready.json.load, `bare /health/ready: ${ready.text}`);
  const full = await request(p.http, 'GET', '/health', { token: annToken });
  assert(full.json.llm && full.json.load && full.json.auth_required === true, `/health with a token: ${full.text}`);
  assert((await request(p.http, 'GET', '/metrics', { token: annToken })).status === 200, '/metrics with a token');

  // WebSocket: no token, a wrong one, one in the wrong field, a bad header
  await refusedWs(p.url, {}, {}, 'no token');
  await refusedWs(p.url, { token: 'pt_nope' }, {}, 'a wrong token');
  await refusedWs(p.url, { auth: annToken }, {}, 'a token in the wrong field');
  await refusedWs(p.url, { token: annToken }, { headers: { Authorization: 'Bearer pt_bad' } }, 'a wrong header wins');
  const big = await wsStart(p.url, { token: 'z'.repeat(60000) });
  assert(big.messages('error')[0]?.code === 'PROTOCOL_VIOLATION' && !big.messages('ready').length, 'a 60 kB token field');
  big.close();
  // ...and the right token, in start (browsers) or the header (others)
  const viaHeader = await wsStart(p.url, {}, { headers: { Authorization: `Bearer ${bobToken}` } });
  assert(viaHeader.messages('ready').length, `Bearer header: ${JSON.stringify(viaHeader.messages())}`);
  viaHeader.close();

  // ann's data: a memory and a film by tools, and a conversation
  await llm.script([
    { text: 'Noted.', tool_calls: [{ name: 'memory_save', arguments: { content: "Ann's dog is called Rex" } }] },
    { text: 'And the film.', tool_calls: [{ name: 'movies_save', arguments: { title: 'Alien', rating: 9 } }] },
    { text: 'Done.' },
  ]);
  const ann = await wsStart(p.url, { token: annToken });
  assert(ann.messages('ready').length, 'ann is in');
  ann.send({ type: 'text', text: 'Remember that my dog is called Rex, and that I loved Alien.' });
  await ann.waitFor('done', (m) => m.turn === 1, 20000);
  const annConv = ann.messages('ready')[0].conversation_id;
  const annMem = await request(p.http, 'GET', '/v1/memories?q=dog', { token: annToken });
  assert(annMem.json.memories.length === 1, `ann's memory: ${annMem.text}`);

  // bob sees none of it: listings, search, recall, tables, resume
  const bobMem = await request(p.http, 'GET', '/v1/memories?q=dog%20Rex', { token: bobToken });
  assert(bobMem.status === 200 && bobMem.json.memories.length === 0, `bob's memories: ${bobMem.text}`);
  const bobConvs = await request(p.http, 'GET', '/v1/conversations', { token: bobToken });
  assert(bobConvs.json.conversations.length === 0, `bob's conversations: ${bobConvs.text}`);
  const peek = await request(p.http, 'GET', `/v1/conversations/${annConv}`, { token: bobToken });
  assert(peek.status === 404, `bob reads ann's conversation by id: ${peek.status}`);
  const del = await request(p.http, 'DELETE', `/v1/memories/${annMem.json.memories[0].id}`, { token: bobToken });
  assert(del.status === 404, `bob deletes ann's memory: ${del.status}`);
  await llm.reset();
  await llm.script([
    { text: '', tool_calls: [{ name: 'movies_list', arguments: {} }] },
    { text: 'You have no films saved.' },
  ]);
  const bobChat = await request(p.http, 'POST', '/v1/chat', { token: bobToken, body: { text: 'What is my dog called? Which films do I like?' } });
  assert(bobChat.status === 200, `bob's chat: ${bobChat.text}`);
  const listed = bobChat.json.tools.find((t) => t.type === 'tool_result');
  assert(listed && !JSON.stringify(listed.result).includes('Alien'), `bob's movies_list: ${JSON.stringify(listed)}`);
  const reqs = await llm.requests();
  assert(reqs.length >= 1 && !reqs.some((r) => JSON.stringify(r.body).includes('Rex')), 'nothing of ann reached bob\'s LLM context');
  const bobResume = await wsStart(p.url, { token: bobToken, conversation_id: annConv });
  assert(bobResume.messages('error')[0]?.code === 'NOT_FOUND', 'bob cannot resume ann\'s conversation');
  await bobResume.waitFor('ready');
  assert(bobResume.messages('ready')[0].conversation_id !== annConv, 'bob gets a conversation of his own');
  bobResume.close();
  // ann's recall still works for ann
  await llm.reset();
  await llm.script([{ text: 'Rex.' }]);
  const annChat = await request(p.http, 'POST', '/v1/chat', { token: annToken, body: { text: 'What is my dog called?' } });
  assert(annChat.status === 200 && JSON.stringify((await llm.requests()).at(-1).body).includes('Rex'), 'ann\'s recall');

  // a voice upload's reply audio is its user's alone
  await llm.script([{ text: 'It is sunny.' }]);
  const pcm = makeSpeech('What is the weather like today?');
  const up = await request(p.http, 'POST', '/v1/voice/upload?sample_rate=16000',
    { token: annToken, body: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength) });
  assert(up.status === 200 && up.json.audio_url, `ann's upload: ${up.text.slice(0, 300)}`);
  assert((await request(p.http, 'GET', up.json.audio_url, { token: bobToken })).status === 404, 'bob cannot fetch ann\'s reply audio');
  assert((await request(p.http, 'GET', up.json.audio_url, { token: annToken })).status === 200, 'ann can');

  // bob removed while connected: refused at his next turn
  const bobWs = await wsStart(p.url, { token: bobToken });
  assert(bobWs.messages('ready').length, 'bob connected');
  assert(/Removed user bob/.test(cli(dataDir, 'users', 'remove', 'bob')), 'users remove');
  await eventually(async () => (await request(p.http, 'GET', '/v1/memories', { token: bobToken })).status === 401,
    'bob\'s token stops working');
  bobWs.send({ type: 'text', text: 'Am I still here?' });
  const gone = await bobWs.waitFor('error', (m) => m.code === 'UNAUTHORIZED');
  assert(gone.recoverable === false, 'refusal is final');
  await bobWs.waitClosed();
  assert(!bobWs.messages('state').some((m) => m.state === 'thinking') && !bobWs.messages('assistant_text').length, 'no reply for a removed user');

  // rotation: the new token works, the old one stops, ann's session ends at her next turn
  const annToken2 = newToken(dataDir, 'ann');
  await eventually(async () => (await request(p.http, 'GET', '/v1/memories', { token: annToken2 })).status === 200,
    'the new token works');
  assert((await request(p.http, 'GET', '/v1/memories', { token: annToken })).status === 401, 'the old token does not');
  ann.send({ type: 'text', text: 'Hello again.' });
  await ann.waitFor('error', (m) => m.code === 'UNAUTHORIZED');
  const annMem2 = await request(p.http, 'GET', '/v1/memories?q=dog', { token: annToken2 });
  assert(annMem2.json.memories.length === 1, 'ann keeps her data across a new token');
  const list = cli(dataDir, 'users', 'list');
  assert(/^ann\s/m.test(list) && !/^bob\s/m.test(list) && /^local\s/m.test(list), `users list:\n${list}`);
  await p.stop();
  llm.stop();
});

test('a database made by release 0.1.0 migrates into the local user, nothing lost', async () => {
  const llm = await startFakeLlm();
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'migrate-'));
  fs.copyFileSync(path.join(root, 'tests/fixtures/parley-0.1.0.db'), path.join(dataDir, 'parley.db'));
  // off loopback with auth off: served, with a warning
  const port = await freePort();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir, PARLEY_AUTH: 'off' },
    args: ['--listen', `0.0.0.0:${port}`] });
  const base = `http://127.0.0.1:${port}`;
  assert(/listening on 0\.0\.0\.0 with auth.mode off: anyone/.test(p.log()), 'the warning for an open server');
  const convs = await request(base, 'GET', '/v1/conversations');
  assert(convs.status === 200 && convs.json.conversations.length === 1, `conversations: ${convs.text}`);
  const conv = await request(base, 'GET', `/v1/conversations/${convs.json.conversations[0].id}`);
  assert(conv.json.messages.length === 8, `its messages: ${conv.json.messages.length}`);
  const mem = await request(base, 'GET', '/v1/memories?q=dog');
  assert(mem.json.memories.length === 1 && /Rex/.test(mem.json.memories[0].content), `memories: ${mem.text}`);
  await llm.script([{ text: '', tool_calls: [{ name: 'movies_list', arguments: {} }] }, { text: 'Alien.' }]);
  const chat = await request(base, 'POST', '/v1/chat', { body: { text: 'Which films have I saved?' } });
  const listed = chat.json.tools.find((t) => t.type === 'tool_result');
  assert(listed && JSON.stringify(listed.result).includes('Alien'), `the film survived: ${JSON.stringify(listed)}`);
  await p.stop();
  assert(/^local\s.*none/m.test(cli(dataDir, 'users', 'list')), 'the local user owns it');
  llm.stop();
});

test('https and wss with a self-signed certificate: a spoken turn, then a guessing burst', async () => {
  const certDir = path.join(tmpDir, 'tls');
  const made = cli(tmpDir, 'tls', 'self-signed', certDir);
  assert(/Certificate SHA-256: ([0-9A-F]{2}:){31}[0-9A-F]{2}/.test(made) && /IP:127\.0\.0\.1/.test(made), made);
  const ca = fs.readFileSync(path.join(certDir, 'parley-ca.crt'));
  // a key that is not the certificate's stops start-up, naming it
  const other = path.join(tmpDir, 'tls-other');
  cli(tmpDir, 'tls', 'self-signed', other);
  const bad = spawn(parleyBin, ['serve', '--listen', '127.0.0.1:1'], {
    env: { ...process.env, PARLEY_TLS_CERT: path.join(certDir, 'parley.crt'), PARLEY_TLS_KEY: path.join(other, 'parley.key'),
      PARLEY_DATA_DIR: fs.mkdtempSync(path.join(tmpDir, 'bad-')) },
  });
  let err = '';
  bad.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => bad.on('exit', r));
  assert(code !== 0 && err.includes(path.join(other, 'parley.key')) && /does not belong/.test(err), `mismatch: ${code} ${err}`);

  const llm = await startFakeLlm();
  await llm.script([{ text: 'It is sunny today.' }]);
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'tls-data-'));
  const token = addUser(dataDir, 'phone');
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir, PARLEY_AUTH: 'on',
    PARLEY_TLS_CERT: path.join(certDir, 'parley.crt'), PARLEY_TLS_KEY: path.join(certDir, 'parley.key'),
    PARLEY_METRICS_PUBLIC: 'true' } });
  assert(new RegExp(`listening on https://127\\.0\\.0\\.1:${p.port}/`).test(p.log()), 'start-up says https');
  const base = `https://127.0.0.1:${p.port}`;
  const page = await request(base, 'GET', '/', { ca });
  assert(page.status === 200 && page.text.includes('parley'), 'the page over https, verified against the authority');
  // the name is checked by TLS (SNI), not looked up: a minimal system may not resolve localhost
  const viaLocalhost = await request(base, 'GET', '/health', { ca, servername: 'localhost' });
  assert(viaLocalhost.status === 200, 'the certificate names localhost too');
  await refusedEverywhere(base, null, { ca }, ['/metrics']);
  const metrics = await request(base, 'GET', '/metrics', { ca });
  assert(metrics.status === 200 && /parley_turns_total/.test(metrics.text), 'metrics.public: /metrics without a token');
  const c = await wsStart(`wss://127.0.0.1:${p.port}/ws`, { token }, { ca });
  assert(c.messages('ready').length, `wss: ${JSON.stringify(c.messages())}`);
  await c.streamAudio(concat(makeSpeech('What is the weather like today?'), silence(800)));
  const final = await c.waitFor('transcript_final', () => true, 20000);
  assert(/weather/.test(final.text), `heard over wss: ${final.text}`);
  await c.waitFor('done', () => true, 20000);
  assert(c.events.some((e) => e.binary), 'reply audio over wss');
  c.close();

  // guessing: after ~10 wrong tokens a minute, 429 with Retry-After, and the WebSocket says RATE_LIMITED
  let limited = null;
  for (let i = 0; i < 15 && !limited; i++) {
    const r = await request(base, 'GET', '/v1/memories', { token: `pt_guess${i}`, ca });
    if (r.status === 429) limited = r;
    else assert(r.status === 401, `guess ${i}: ${r.status}`);
  }
  assert(limited && Number(limited.headers['retry-after']) > 0 && limited.json.error.code === 'RATE_LIMITED',
    `a burst is slowed down: ${limited && limited.text}`);
  const ws = await wsStart(`wss://127.0.0.1:${p.port}/ws`, { token }, { ca });
  assert(ws.messages('error')[0]?.code === 'RATE_LIMITED', `the brake holds on WebSockets too: ${JSON.stringify(ws.messages())}`);
  assert((await request(base, 'GET', '/health', { ca })).status === 200, 'liveness is never braked');
  await p.stop();
  llm.stop();
});

await run();
