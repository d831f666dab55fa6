// Every error rule of protocol v1, end to end: bad frames, audio before
// start, oversized frames, over-long speech, a dead, failing, stalling or
// dropping LLM, a failing TTS engine, a client that stops reading, SIGTERM.
import fs from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';
import path from 'node:path';
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
  replyAudio,
  freePort,
  tmpDir,
  root,
  readWavPcm16,
  concat,
  silence,
} from './lib.mjs';

let llm;

async function session(env = {}, args = []) {
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, ...env }, args });
  const c = new Client(p.url);
  await c.open();
  return { p, c };
}

test('protocol violations: before start, not JSON, unknown or missing type', async () => {
  const { p, c } = await session();
  c.sendBinary(Buffer.alloc(640));
  let e = await c.waitFor('error');
  assert(e.code === 'PROTOCOL_VIOLATION' && e.recoverable === true && /before 'start'/.test(e.message), e.message);
  c.send({ type: 'text', text: 'hi' });
  await c.waitUntil(() => c.messages('error').length === 2, 5000, 'second error');
  assert(/start/.test(c.messages('error')[1].message), 'text before start refused');
  await c.start(); // the connection survived
  c.send({ type: 'start' });
  await c.waitUntil(() => c.messages('error').length === 3, 5000, 'duplicate start error');
  c.close();

  for (const [frame, why] of [
    ['this is not json', /JSON/],
    ['{"type":"dance"}', /unknown message type 'dance'/],
    ['{"text":"no type"}', /no string 'type'/],
  ]) {
    const k = new Client(p.url);
    await k.open();
    await k.start();
    k.send(frame);
    const err = await k.waitFor('error');
    assert(err.code === 'PROTOCOL_VIOLATION' && err.recoverable === false && why.test(err.message), err.message);
    const closed = await k.waitClosed();
    assert(closed.code === 1000, `closed cleanly after the error (${closed.code})`);
  }
  await p.stop();
});

test('pages from other origins cannot open a session', async () => {
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', 'allowed_origins=http://app.example:3000'] });
  const open = (origin) =>
    new Promise((resolve) => {
      const ws = new WebSocket(p.url, origin ? { origin } : {});
      ws.on('open', () => (ws.close(), resolve('open')));
      ws.on('error', () => resolve('refused'));
    });
  assert((await open('http://evil.example')) === 'refused', 'a foreign origin is refused');
  assert((await open(`http://127.0.0.1:${p.port}`)) === 'open', "parley's own page is allowed");
  assert((await open('http://app.example:3000')) === 'open', 'a configured origin is allowed');
  assert((await open(null)) === 'open', 'a client without Origin is allowed');
  await p.stop();
});

test('DNS rebinding: a request for a host name parley does not answer to is refused', async () => {
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', 'allowed_hosts=parley.home'] });
  // what a page on http://evil.example:PORT, resolving to 127.0.0.1, sends: Origin and Host both its own
  const evil = `evil.example:${p.port}`;
  const get = (host) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: p.port, path: '/v1/memories', headers: { Host: host } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end();
    });
  assert((await get(evil)) === 403, 'GET /v1/memories for evil.example is refused');
  for (const ok of [`127.0.0.1:${p.port}`, `localhost:${p.port}`, `parley.home:${p.port}`, `[::1]:${p.port}`])
    assert((await get(ok)) === 200, `${ok} is answered`);
  const open = (headers) =>
    new Promise((resolve) => {
      const ws = new WebSocket(p.url, { headers });
      ws.on('open', () => (ws.close(), resolve('open')));
      ws.on('error', () => resolve('refused'));
    });
  assert((await open({ Host: evil, Origin: `http://${evil}` })) === 'refused', 'its WebSocket is refused');
  assert((await open({ Host: `localhost:${p.port}`, Origin: `http://localhost:${p.port}` })) === 'open', 'localhost is fine');
  await p.stop();
});

test("'played' corrects only this session's reply, never another session's in the same conversation", async () => {
  await llm.reset();
  await llm.script([{ text: 'The first answer, kept whole.' }, { text: 'A second answer that will be cut.', ttft_ms: 3000 }]);
  const { p, c } = await session();
  const ready = await c.start();
  c.send({ type: 'text', text: 'First question.' });
  await c.waitFor('done', (m) => m.turn === 1, 15000);
  c.close();
  // B resumes A's conversation; its turn 1 is cancelled before any text
  const b = new Client(p.url);
  await b.open();
  await b.start({ conversation_id: ready.conversation_id });
  b.send({ type: 'text', text: 'Second question.' });
  await b.waitFor('state', (m) => m.state === 'thinking');
  b.send({ type: 'cancel' });
  await b.waitFor('agent_interrupted', (m) => m.turn === 1);
  b.send({ type: 'played', turn: 1, ms: 0 });
  for (const ms of [2 ** 62, 1e300, -1])
    b.send({ type: 'played', turn: 1, ms });
  await b.waitUntil(() => b.messages('error').length >= 3, 5000, 'three refusals');
  assert(b.messages('error').every((e) => e.code === 'PROTOCOL_VIOLATION' && e.recoverable), 'out-of-range ms refused');
  b.close();
  await b.waitClosed();
  await p.stop(); // every write is done
  const q = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: p.dataDir } });
  const conv = await (await fetch(`${q.http}/v1/conversations/${ready.conversation_id}`)).json();
  const first = conv.messages.find((m) => m.role === 'assistant' && m.turn === 1);
  assert(first && first.content === 'The first answer, kept whole.' && !first.interrupted, `A's reply: ${JSON.stringify(conv.messages)}`);
  await q.stop();
});

test('text is UTF-8 end to end: bad bytes refused with a reason, accents, CJK and emoji carried whole', async () => {
  await llm.reset();
  const accents = 'a' + 'é'.repeat(40);
  const reply = `${accents} 今日は2026年です今日は2026年です今日は2026年です今日は2026年です 😀 Ça va.`;
  await llm.script([{ text: reply, token_ms: 5 }]);
  const { p, c } = await session();
  const ready = await c.start();
  // a text frame that is not UTF-8: a reason, and the session goes on (ws would have closed with 1007)
  c.ws.send(Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
  const bad = await c.waitFor('error');
  assert(bad.code === 'PROTOCOL_VIOLATION' && bad.recoverable && /UTF-8/.test(bad.message), JSON.stringify(bad));
  c.send({ type: 'start', session_id: 'x"\nINJECTED' }); // a label with a quote and a newline
  await c.waitUntil(() => c.messages('error').length === 2, 5000, 'second error');
  c.send({ type: 'text', text: 'é'.repeat(8001) });
  await c.waitUntil(() => c.messages('error').length === 3, 5000, 'third error');
  assert(/8000 characters/.test(c.messages('error')[2].message), c.messages('error')[2].message);
  c.send({ type: 'text', text: 'Café ☕, 今日は? 😀' });
  await c.waitFor('done', (m) => m.turn === 1, 20000);
  assert(!c.closed, 'the socket stayed open: every message was valid UTF-8');
  const end = c.messages('assistant_text').find((m) => m.status === 'end');
  assert(end && end.text === reply, `the reply, whole: ${end && end.text}`);
  const phrases = c.messages('tts_start').map((m) => m.text);
  assert(phrases.join(' ').replace(/\s+/g, '') === reply.replace(/\s+/g, ''), `phrases: ${JSON.stringify(phrases)}`);
  assert(!p.log().includes('INJECTED'), 'the bad label never reached the log');
  // the HTTP API: invalid UTF-8 refused, 3000 CJK characters accepted (the limit counts characters)
  const post = (body) => fetch(`${p.http}/v1/chat`, { method: 'POST', body });
  const badBody = Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const r1 = await post(badBody);
  assert(r1.status === 400 && /UTF-8/.test((await r1.json()).error.message), `invalid UTF-8: ${r1.status}`);
  const r2 = await post('{"text":"hi"} trailing');
  assert(r2.status === 400, `trailing garbage: ${r2.status}`);
  await llm.script([{ text: '好的。' }]);
  const r3 = await post(JSON.stringify({ text: '字'.repeat(3000), conversation_id: ready.conversation_id }));
  assert(r3.status === 200, `3000 CJK characters: ${r3.status}`);
  const conv = await (await fetch(`${p.http}/v1/conversations/${ready.conversation_id}`)).json();
  // stored as spoken (phrases joined by spaces): every character kept
  const squeeze = (t) => t.replace(/\s+/g, '');
  assert(conv.messages.some((m) => m.role === 'assistant' && squeeze(m.content) === squeeze(reply)),
    `stored whole: ${JSON.stringify(conv.messages.map((m) => m.content.slice(0, 80)))}`);
  c.close();
  await p.stop();
});

test('ordering: a text sent while a conversation loads follows its history; one typed over speech stands', async () => {
  await llm.reset();
  await llm.script([{ text: 'First answer.' }, { text: 'Second answer.' }, { text: 'Typed answer.', token_ms: 30 }]);
  const { p, c } = await session();
  const ready = await c.start();
  c.send({ type: 'text', text: 'Remember the number seven.' });
  await c.waitFor('done', (m) => m.turn === 1, 15000);
  c.close();
  // resume and type at once: 'ready' comes first, and the LLM sees the old history before the question
  const b = new Client(p.url);
  await b.open();
  b.send({ type: 'start', sample_rate: 16000, conversation_id: ready.conversation_id });
  b.send({ type: 'text', text: 'What number was it?' });
  await b.waitFor('done', () => true, 15000);
  const types = b.messages().map((m) => m.type);
  assert(types.indexOf('ready') < types.indexOf('assistant_text'), `ready first: ${types.join(' ')}`);
  const last = (await llm.requests()).filter((r) => r.path === '/api/chat').at(-1);
  const contents = last.body.messages.map((m) => m.content);
  assert(contents.indexOf('Remember the number seven.') >= 0 &&
    contents.indexOf('Remember the number seven.') < contents.indexOf('What number was it?'), `history first: ${contents}`);
  // speech, then a typed turn before its final: the typed turn is answered, the late final is not
  const speech = concat(makeSpeech('Tell me about the weather tomorrow please.'), silence(700));
  const streaming = b.streamAudio(speech);
  await b.waitFor('speech_started', () => true, 10000);
  b.send({ type: 'text', text: 'Never mind, what time is it?' });
  await streaming;
  const late = await b.waitFor('transcript_final', () => true, 15000);
  await b.waitFor('info', (m) => /newer turn/.test(m.message), 5000);
  const typedTurn = await b.waitFor('assistant_text', (m) => m.status === 'end' && m.text === 'Typed answer.', 15000);
  await b.waitFor('done', (m) => m.turn === typedTurn.turn, 15000);
  assert(!b.messages('agent_interrupted').some((m) => m.turn === typedTurn.turn), 'the late final did not interrupt it');
  assert(late.turn < typedTurn.turn && b.messages('info').some((m) => /newer turn/.test(m.message)), 'the late final is not answered');
  b.close();
  await p.stop();
});

test('an oversized frame is refused, and the session goes on', async () => {
  const { p, c } = await session();
  await c.start();
  c.sendBinary(Buffer.alloc(70000));
  const e = await c.waitFor('error');
  assert(e.code === 'PROTOCOL_VIOLATION' && e.recoverable && /70000 bytes/.test(e.message), e.message);
  c.sendBinary(Buffer.alloc(641));
  await c.waitUntil(() => c.messages('error').length === 2, 5000, 'odd-sized frame error');
  c.send({ type: 'text', text: 'still there?' });
  await c.waitFor('done', () => true, 15000);
  c.close();
  await p.stop();
});

test('speech longer than STREAM_MAX_UTTERANCE_MS is cut, finalized and answered', async () => {
  const { p, c } = await session({ STREAM_MAX_UTTERANCE_MS: '2000' });
  await c.start();
  await c.streamAudio(makeSpeech('Tell me a long story about the ocean and the ships that sail across it.'));
  const e = await c.waitFor('error', (m) => m.code === 'MAX_DURATION_EXCEEDED', 10000);
  assert(e.recoverable, 'recoverable');
  const fin = await c.waitFor('transcript_final', () => true, 10000);
  assert(/story/.test(fin.text) && !/ships/.test(fin.text), `cut transcript: ${fin.text}`);
  assert(c.messages('assistant_text').some((m) => m.turn === fin.turn), 'the cut utterance is answered');
  // Speech that goes on after the cut is the next utterance; the last one is answered in full.
  const last = await c.waitUntil(() => c.messages('done').at(-1), 15000, 'done');
  assert(last.turn > fin.turn, 'the rest became a new turn');
  c.close();
  await p.stop();
});

test('a recogniser that cannot finish in time gives ASR_TIMEOUT and the session goes on', async () => {
  // jfk.wav is 11 s of real speech; its final pass takes longer than the
  // 100 ms allowed here once the speculative final is off.
  const { p, c } = await session({}, ['--set', 'asr.final_timeout_ms=100', '--set', 'asr.speculative_final_ms=0', '--set', 'vad.silence_ms=300']);
  await c.start();
  const jfk = readWavPcm16(path.join(root, '../shared/data/jfk.wav')).pcm;
  await c.streamAudio(concat(jfk, silence(600)), { realtime: false });
  const e = await c.waitFor('error', (m) => m.code === 'ASR_TIMEOUT', 15000);
  assert(e.recoverable && /100 ms/.test(e.message), e.message);
  c.send({ type: 'text', text: 'are you still there?' });
  await c.waitFor('done', () => true, 15000);
  c.close();
  await p.stop();
});

test('an unreachable LLM gives LLM_FAIL naming the URL, and the session keeps listening', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const p = await startParley({ env: { PARLEY_LLM_URL: dead } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  await c.streamAudio(makeSpeech('What time is it in London?'));
  const e = await c.waitFor('error', (m) => m.code === 'LLM_FAIL', 15000);
  assert(e.message.includes(`${dead}/api/chat`) && e.recoverable, e.message);
  await c.waitFor('done', (m) => m.turn === 1, 5000);
  await c.waitFor('state', (m) => m.state === 'listening', 5000, c.events.findIndex((x) => x.msg === e));
  const from = c.events.length;
  await c.streamAudio(makeSpeech('Tell me a joke about computers.'));
  const fin = await c.waitFor('transcript_final', (m) => m.turn === 2, 15000, from);
  assert(/joke/.test(fin.text), 'still listening after the failure');
  c.close();
  await p.stop();
});

test('LLM failures: no first token, stall mid-reply, dropped stream, HTTP 500', async () => {
  const { p, c } = await session({ STREAM_LLM_TIMEOUT_S: '2' }, ['--set', 'llm.first_token_timeout_ms=800']);
  await c.start();
  await llm.script([
    { mode: 'hang' },
    { text: 'First words then silence forever.', mode: 'stall', after_tokens: 3 },
    { text: 'Cut off in the middle of this.', mode: 'drop', after_tokens: 3 },
    { mode: 'error', status: 500, text: 'model exploded' },
  ]);
  const expect = [
    ['LLM_TIMEOUT', /within 800 ms/],
    ['LLM_TIMEOUT', /within 2 s/],
    ['LLM_FAIL', /broke off/],
    ['LLM_FAIL', /HTTP 500: model exploded/],
  ];
  for (let i = 0; i < expect.length; i++) {
    const from = c.events.length;
    const t0 = Date.now();
    c.send({ type: 'text', text: `attempt ${i}` });
    const e = await c.waitFor('error', () => true, 10000, from);
    assert(e.code === expect[i][0] && expect[i][1].test(e.message), `case ${i}: ${e.code} ${e.message}`);
    const done = await c.waitFor('done', (m) => m.turn === i + 1, 10000, from);
    if (i === 0) assert(Date.now() - t0 < 3000, 'first-token timeout is prompt');
    if (i === 1) {
      // What arrived before the stall is still spoken.
      assert(replyAudio(c.events.slice(from), i + 1).samples > 0, 'partial reply spoken');
      assert(done.metrics.first_token_ms !== null, 'first token marked');
    }
  }
  c.close();
  await p.stop();
});

test('a failing TTS engine falls back to the next with a recoverable TTS_FAIL', async () => {
  const cfg = path.join(tmpDir, 'tts-fail.yaml');
  fs.writeFileSync(cfg, 'tts:\n  chain: [espeak, flite]\n  espeak_voice: no-such-voice\n');
  const { p, c } = await session({}, ['--config', cfg]);
  await c.start();
  c.send({ type: 'text', text: 'Speak please.' });
  const e = await c.waitFor('error', (m) => m.code === 'TTS_FAIL', 15000);
  assert(e.recoverable && /espeak/.test(e.message) && /flite/.test(e.message), e.message);
  await c.waitFor('done', () => true, 15000);
  assert(replyAudio(c.events, 1).samples > 8000, 'flite spoke instead');
  c.close();
  await p.stop();
});

test('a client that stops reading is dropped and memory stays bounded', async () => {
  // 400 sentences: over 30 MB of reply audio, a hundred times the queue's bound
  const long = Array.from({ length: 400 }, (_, i) => `This is sentence number ${i + 1} of a very long answer.`).join(' ');
  await llm.script([{ text: 'A short warm-up answer.' }, { text: long, token_ms: 1 }]);
  // (under ASan, freed memory sits in a quarantine and would count: none here)
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0', 'thread_local_quarantine_size_kb=0'].filter(Boolean);
  const { p, c } = await session({ ASAN_OPTIONS: asan.join(':') },
    ['--set', 'limits.send_queue_kib=256', '--set', 'tts.playout_lead_ms=60000']);
  await c.start();
  c.send({ type: 'text', text: 'Warm up.' }); // engines and threads at their working size first
  await c.waitFor('done', () => true, 15000);
  const rssKib = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))[1]);
  const rssBefore = rssKib();
  c.ws._socket.pause(); // stop reading; the kernel buffers fill, then parley's queue
  c.send({ type: 'text', text: 'Talk for a long time.' });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no drop: ' + p.log().slice(-500))), 60000);
    const check = (d) => {
      if (/is not reading/.test(d.toString())) {
        clearTimeout(timer);
        p.child.stderr.off('data', check);
        resolve();
      }
    };
    p.child.stderr.on('data', check);
    if (/is not reading/.test(p.log())) check(Buffer.from(p.log()));
  });
  c.ws._socket.resume();
  await c.waitClosed(15000);
  // The drop came from the bound (the queue had filled to it), and nothing
  // else held the reply either: the whole process grew by a fraction of the
  // 30+ MB of audio the reply would make (synthesis stops with the drop;
  // measured: ~6 MB, the same for 200 sentences as for 400).
  const queued = Number(/not reading \((\d+) bytes queued\)/.exec(p.log())[1]);
  assert(queued > 128 * 1024, `the queue filled before the drop: ${queued} bytes`);
  const grown = rssKib() - rssBefore;
  assert(grown < 12 * 1024, `the server grew by ${grown} KiB for a client that never read`);
  // The server is healthy for the next client.
  const k = new Client(p.url);
  await k.open();
  await k.start();
  k.send({ type: 'text', text: 'hello' });
  await k.waitFor('done', () => true, 15000);
  k.close();
  await p.stop();
});

test('SIGTERM tells every session and closes cleanly', async () => {
  const { p, c } = await session();
  await c.start();
  const k = new Client(p.url);
  await k.open();
  const exit = p.stop();
  for (const cl of [c, k]) {
    const info = await cl.waitFor('info', (m) => /shutting down/.test(m.message), 5000);
    assert(info, 'shutdown info');
    await cl.waitClosed(5000);
  }
  const r = await exit;
  assert(r && r.code === 0, `exit status ${JSON.stringify(r)}`);
});

llm = await startFakeLlm();
await run();
