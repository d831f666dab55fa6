// The HTTP API end to end (docs/api.md): text turns as JSON and as server-
// sent events, resuming by conversation_id, voice uploads (WAV and raw PCM)
// with the reply as WAV, conversations, memories, health, metrics, bad input
// of every kind, a dead LLM, and many writers at once.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { test, run, assert, startFakeLlm, startParley, Client, tmpDir, freePort } from './lib.mjs';

const chats = (reqs) => reqs.filter((r) => r.path === '/api/chat' || r.path === '/v1/chat/completions');

async function post(base, p, body, headers = {}) {
  const res = await fetch(base + p, {
    method: 'POST',
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    headers,
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

async function get(base, p, method = 'GET') {
  const res = await fetch(base + p, { method });
  const buf = Buffer.from(await res.arrayBuffer());
  let json = null;
  try {
    json = JSON.parse(buf.toString());
  } catch {}
  return { status: res.status, json, buf, headers: res.headers };
}

function wavOf(text) {
  const raw = path.join(tmpDir, `u-${Math.random().toString(36).slice(2)}.wav`);
  execFileSync('flite', ['-voice', 'slt', '-t', text, '-o', raw]);
  return raw;
}

test('text turns as JSON, resumed by conversation_id, listed and read back', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'Hello, nice to meet you.' }, { text: 'You said hello.' }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const a = await post(p.http, '/v1/chat', { text: 'Hello there' });
  assert(a.status === 200 && a.json.text === 'Hello, nice to meet you.', `chat: ${a.status} ${a.text}`);
  assert(a.json.conversation_id && a.json.turn === 1 && a.json.errors.length === 0, a.text);
  const b = await post(p.http, '/v1/chat', { text: 'What did I say?', conversation_id: a.json.conversation_id });
  assert(b.status === 200 && b.json.conversation_id === a.json.conversation_id, b.text);
  const msgs = chats(await llm.requests())[1].body.messages.map((m) => `${m.role}:${m.content}`);
  assert(msgs.includes('user:Hello there') && msgs.includes('assistant:Hello, nice to meet you.'), `context ${msgs}`);

  const list = await get(p.http, '/v1/conversations');
  assert(list.status === 200 && list.json.conversations.length === 1 && list.json.conversations[0].messages === 4, JSON.stringify(list.json));
  const conv = await get(p.http, `/v1/conversations/${a.json.conversation_id}`);
  assert(conv.status === 200, `conversation ${conv.status}`);
  const roles = conv.json.messages.map((m) => `${m.role}/${m.input}`);
  assert(roles.join(',') === 'user/text,assistant/null,user/text,assistant/null', roles.join(','));
  assert(conv.json.messages[0].metrics && conv.json.messages[0].created_at > 0, 'timestamps and latency marks kept');
  await p.stop();
  llm.stop();
});

test('a text turn as server-sent events', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'Streaming works fine.', token_ms: 40 }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const res = await fetch(`${p.http}/v1/chat`, {
    method: 'POST',
    headers: { Accept: 'text/event-stream' },
    body: JSON.stringify({ text: 'Stream something' }),
  });
  assert(res.status === 200 && res.headers.get('content-type').startsWith('text/event-stream'), `${res.status}`);
  const events = [];
  const t0 = Date.now();
  let firstChunkAt = 0;
  const decoder = new TextDecoder();
  let buf = '';
  for await (const part of res.body) {
    buf += decoder.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      events.push({ event: ev.event, data: JSON.parse(ev.data) });
      if (ev.event === 'assistant_text' && !firstChunkAt) firstChunkAt = Date.now() - t0;
    }
  }
  const missing = await fetch(`${p.http}/v1/chat`, {
    method: 'POST',
    headers: { Accept: 'text/event-stream' },
    body: JSON.stringify({ text: 'Hi', conversation_id: 'no-such-one' }),
  });
  assert(missing.status === 404 && (await missing.json()).error.code === 'NOT_FOUND', 'an unknown conversation is a 404, not a stream');
  const names = events.map((e) => e.event);
  assert(names[0] === 'ready' && names.includes('assistant_text') && names[names.length - 1] === 'done', names.join(','));
  const chunks = events.filter((e) => e.event === 'assistant_text' && e.data.status === 'chunk');
  assert(chunks.length >= 4 && chunks.map((e) => e.data.text).join('') === 'Streaming works fine.', 'token by token');
  await p.stop();
  llm.stop();
});

test('bad requests get 4xx JSON errors and change nothing', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const ok = await post(p.http, '/v1/chat', { text: 'Keep this' });
  assert(ok.status === 200, ok.text);
  const cases = [
    [await post(p.http, '/v1/chat', '{not json'), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', '[1,2]'), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', { text: '' }), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', { text: 42 }), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', { text: 'x', conversation_id: 7 }), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', ''), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', JSON.stringify({ text: 'x'.repeat(70000) })), 413, 'TOO_LARGE'],
    [await post(p.http, '/v1/chat', { text: 'hi', conversation_id: "x'); DROP TABLE messages; --" }), 400, 'BAD_REQUEST'],
    [await post(p.http, '/v1/chat', { text: 'hi', conversation_id: 'c-nosuchthing' }), 404, 'NOT_FOUND'],
    [await get(p.http, '/v1/chat'), 405, 'METHOD_NOT_ALLOWED'],
    [await get(p.http, '/v1/nothing-here'), 404, 'NOT_FOUND'],
    [await get(p.http, '/v1/conversations/unknown'), 404, 'NOT_FOUND'],
    [await get(p.http, '/v1/memories/abc', 'DELETE'), 404, 'NOT_FOUND'],
    [await get(p.http, '/v1/memories/12345', 'DELETE'), 404, 'NOT_FOUND'],
    [await get(p.http, '/v1/audio/nope.wav'), 404, 'NOT_FOUND'],
    [await post(p.http, '/v1/voice/upload', 'RIFF....WAVEjunk'), 400, 'BAD_AUDIO'],
    [await post(p.http, '/v1/voice/upload', new Uint8Array(3200)), 400, 'BAD_AUDIO'],
    [await post(p.http, '/v1/chat', { text: 'from a web page' }, { Origin: 'http://evil.example' }), 403, 'FORBIDDEN'],
  ];
  cases.forEach(([r, status, code], i) =>
    assert(r.status === status && r.json && r.json.error && r.json.error.code === code, `case ${i}: ${r.status} ${JSON.stringify(r.json)}`),
  );
  const list = await get(p.http, '/v1/conversations');
  assert(list.json.conversations.length === 1 && list.json.conversations[0].messages === 2, `database intact: ${JSON.stringify(list.json)}`);
  const again = await post(p.http, '/v1/chat', { text: 'Still fine?' });
  assert(again.status === 200, 'the server still answers');
  await p.stop();
  llm.stop();
});

// One raw HTTP/1.1 exchange on its own socket: what fetch cannot send.
function raw(port, request) {
  return new Promise((resolve) => {
    // written, not half-closed: a FIN could make the server drop the request unanswered
    const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
    let text = '';
    sock.on('data', (d) => (text += d));
    sock.on('close', () => resolve(text));
    sock.on('error', () => resolve(text));
  });
}

// Sends request and gives what came back once n responses are in (or the
// socket closed): for keep-alive exchanges, which never close by themselves.
function rawResponses(port, request, n) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(request));
    let text = '';
    const done = () => { sock.destroy(); resolve(text); };
    const complete = () => { // responses whose body (content-length) is all in
      let at = 0, count = 0;
      for (;;) {
        const head = text.indexOf('\r\n\r\n', at);
        if (head < 0) return count;
        const len = Number((/content-length: (\d+)/i.exec(text.slice(at, head)) || [0, 0])[1]);
        if (text.length < head + 4 + len) return count;
        at = head + 4 + len;
        count++;
      }
    };
    sock.on('data', (d) => {
      text += d;
      if (complete() >= n) done();
    });
    sock.on('close', done);
    sock.on('error', done);
  });
}

test('HTTP edges: methods, CORS, Content-Length, query arguments, odd WAV uploads', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', 'allowed_origins=http://app.example:3000'] });
  for (const [method, route, allow] of [['PUT', '/v1/chat', 'POST'], ['PATCH', '/v1/memories', 'GET'],
    ['HEAD', '/v1/conversations', 'GET'], ['PUT', '/v1/memories/1', 'DELETE']]) {
    const r = await fetch(p.http + route, { method });
    assert(r.status === 405 && r.headers.get('allow') === allow, `${method} ${route}: ${r.status} allow=${r.headers.get('allow')}`);
  }
  // a preflight from an allowed origin, and the answer naming it
  const pre = await fetch(`${p.http}/v1/chat`, { method: 'OPTIONS', headers: { Origin: 'http://app.example:3000',
    'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' } });
  assert(pre.status === 204 && pre.headers.get('access-control-allow-origin') === 'http://app.example:3000' &&
    /Authorization/.test(pre.headers.get('access-control-allow-headers')), `preflight: ${pre.status}`);
  const cors = await fetch(`${p.http}/v1/memories`, { headers: { Origin: 'http://app.example:3000' } });
  assert(cors.status === 200 && cors.headers.get('access-control-allow-origin') === 'http://app.example:3000', 'CORS answer');
  const foreign = await fetch(`${p.http}/v1/chat`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
  assert(foreign.status === 403 && !foreign.headers.get('access-control-allow-origin'), 'a foreign preflight');
  // Content-Length: absurd, negative, chunked: answered at once, never a hang
  // (lws itself closes on a negative length, before parley sees the request: fast, if wordless)
  for (const [len, code] of [['18446744073709551616', 400], ['-5', 'closed'], ['99999999999', 413]]) {
    const t0 = Date.now();
    const text = await raw(p.port, `POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${len}\r\n\r\n{}`);
    const answered = code === 'closed' ? text === '' || text.startsWith('HTTP/1.1 4') : text.startsWith(`HTTP/1.1 ${code}`);
    assert(answered && Date.now() - t0 < 2000, `Content-Length ${len}: ${text.split('\r\n')[0]} after ${Date.now() - t0} ms`);
  }
  const chunked = await raw(p.port, 'POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n');
  assert(chunked.startsWith('HTTP/1.1 411'), `chunked: ${chunked.split('\r\n')[0]}`);
  // query arguments: a long q is refused rather than ignored; limit must be a number
  const longQ = await get(p.http, `/v1/memories?q=${'x'.repeat(700)}`);
  assert(longQ.status === 400 && /500 characters/.test(longQ.json.error.message), `long q: ${longQ.status}`);
  assert((await get(p.http, '/v1/conversations?limit=abc')).status === 400, 'limit=abc');
  assert((await get(p.http, '/v1/conversations?limit=5')).status === 200, 'limit=5');
  // a WAV declaring 10 Hz is refused, not turned into minutes of audio
  const wav = Buffer.alloc(44 + 4000);
  wav.write('RIFF', 0); wav.writeUInt32LE(36 + 4000, 4); wav.write('WAVEfmt ', 8); wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22); wav.writeUInt32LE(10, 24); wav.writeUInt32LE(20, 28);
  wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34); wav.write('data', 36); wav.writeUInt32LE(4000, 40);
  const t0 = Date.now();
  const up = await post(p.http, '/v1/voice/upload', wav);
  assert(up.status === 400 && /10 Hz/.test(up.json.error.message) && Date.now() - t0 < 2000, `10 Hz: ${up.status} ${up.text}`);
  // Pipelined API requests are answered, in order, on one connection.
  const get1 = (path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  const piped = await rawResponses(p.port, get1('/v1/memories') + get1('/v1/conversations') + get1('/v1/memories?q=zebra'), 3);
  const bodies = piped.split(/HTTP\/1\.1 /).slice(1);
  assert(bodies.length === 3 && bodies.every((b) => b.startsWith('200')) && /"memories"/.test(bodies[0]) &&
    /"conversations"/.test(bodies[1]) && /"memories"/.test(bodies[2]), `pipelined: ${JSON.stringify(piped.slice(0, 900))}`);
  // Malformed percent escapes never reach parley: libwebsockets refuses them
  // while it parses the request line (docs/api.md). What matters here: an
  // answer or a close at once, and a server that goes on.
  const badEscape = await raw(p.port, 'GET /v1/memories?q=%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  assert(/^HTTP\/1\.[01] 403/.test(badEscape), `%ZZ: ${badEscape.split('\r\n')[0]}`);
  const nul = await raw(p.port, 'GET /v1/memories?q=a%00b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  assert(nul === '' || /^HTTP\/1\.[01] 4/.test(nul), `%00: ${nul.split('\r\n')[0]}`);
  const health = await get(p.http, '/health');
  assert(health.json && health.json.asr, 'alive after all of it');
  await p.stop();
  llm.stop();
});

test('a dead LLM: chat answers 502 with LLM_FAIL, health says degraded', async () => {
  const port = await freePort(); // nothing listens there
  const p = await startParley({ env: { PARLEY_LLM_URL: `http://127.0.0.1:${port}` } });
  const r = await post(p.http, '/v1/chat', { text: 'Anyone there?' });
  assert(r.status === 502 && r.json.error.code === 'LLM_FAIL', `${r.status} ${r.text}`);
  const h = await get(p.http, '/health');
  assert(h.status === 503 && h.json.status === 'degraded' && h.json.llm_reachable === false && h.json.llm_error, JSON.stringify(h.json));
  await p.stop();
});

test('voice upload: WAV and raw PCM in, transcript and reply WAV out', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'It will be sunny all day.' }, { text: 'It will rain tomorrow.' }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const wav = fs.readFileSync(wavOf('What is the weather like today?'));
  const r = await post(p.http, '/v1/voice/upload', new Uint8Array(wav), { 'Content-Type': 'audio/wav' });
  assert(r.status === 200 && r.json.transcript.includes('weather') && r.json.text === 'It will be sunny all day.', r.text);
  const audio = await get(p.http, r.json.audio_url);
  assert(audio.status === 200 && audio.headers.get('content-type') === 'audio/wav', `${audio.status}`);
  assert(audio.buf.subarray(0, 4).toString() === 'RIFF' && audio.buf.readUInt32LE(24) === 16000, 'a 16 kHz WAV');
  const seconds = (audio.buf.length - 44) / 2 / 16000;
  assert(seconds > 1 && seconds < 5, `${seconds.toFixed(2)} s of reply audio`);

  const raw = execFileSync('sox', ['-R', wavOf('Will it rain tomorrow?'), '-r', '22050', '-c', '1', '-b', '16', '-t', 'raw', '-']);
  const r2 = await post(p.http, '/v1/voice/upload?sample_rate=22050', new Uint8Array(raw));
  assert(r2.status === 200 && r2.json.transcript.includes('rain') && r2.json.audio_url, r2.text);
  const stored = await get(p.http, `/v1/conversations/${r2.json.conversation_id}`);
  assert(stored.json.messages[0].input === 'speech' && stored.json.messages[0].content.includes('rain'), 'stored as a spoken turn');
  const silent = await post(p.http, '/v1/voice/upload?sample_rate=16000', new Uint8Array(32000));
  assert(silent.status === 422 && silent.json.error.code === 'NO_SPEECH', silent.text);
  await p.stop();
  llm.stop();
});

test('memories over HTTP; tool calls that change data are logged in the conversation', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: '', tool_calls: [{ name: 'memory_save', arguments: { content: 'The user likes the film Alien' } }] },
    { text: 'Noted.' },
    { text: '', tool_calls: [{ name: 'movies_save', arguments: { title: 'Alien', year: 1979, rating: 9 } }] },
    { text: 'Rated.' },
  ]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const a = await post(p.http, '/v1/chat', { text: 'Remember that I like Alien.' });
  assert(a.status === 200 && a.json.tools.length === 2 && a.json.tools[1].type === 'tool_result', a.text);
  const b = await post(p.http, '/v1/chat', { text: 'Rate Alien nine.', conversation_id: a.json.conversation_id });
  assert(b.status === 200 && b.json.tools[1].result.saved.rating === 9, b.text);

  const found = await get(p.http, '/v1/memories?q=film%20alien');
  assert(found.status === 200 && found.json.memories.length === 1, JSON.stringify(found.json));
  assert(found.json.memories[0].conversation_id === a.json.conversation_id && found.json.memories[0].turn === 1, 'the source turn is kept');
  const conv = await get(p.http, `/v1/conversations/${a.json.conversation_id}`);
  const tools = conv.json.messages.filter((m) => m.role === 'tool');
  assert(tools.map((m) => m.tool).join(',') === 'memory_save,movies_save', `tool log ${JSON.stringify(tools)}`);
  assert(JSON.parse(tools[1].content).arguments.title === 'Alien', 'arguments logged');

  const id = found.json.memories[0].id;
  const del = await get(p.http, `/v1/memories/${id}`, 'DELETE');
  assert(del.status === 200 && del.json.deleted === id, JSON.stringify(del.json));
  const gone = await get(p.http, '/v1/memories?q=alien');
  assert(gone.json.memories.length === 0, 'forgotten');
  await p.stop();
  llm.stop();
});

test('health and metrics', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const h = await get(p.http, '/health');
  assert(h.status === 200 && h.json.status === 'ok' && h.json.llm_reachable === true, JSON.stringify(h.json));
  assert(h.json.asr.engine === 'pocketsphinx' && h.json.tts_engines.includes('flite') && h.json.store === true, 'engines');
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Hi' });
  await c.waitFor('done', () => true, 15000);
  c.send({ type: 'nonsense' });
  await c.waitClosed(5000).catch(() => {});
  await post(p.http, '/v1/chat', { text: 'Hello' });
  const m = await get(p.http, '/metrics');
  const text = m.buf.toString();
  assert(m.status === 200 && m.headers.get('content-type').startsWith('text/plain'), 'prometheus text');
  assert(/parley_turns_total\{input="text"\} 2/.test(text), text.slice(0, 400));
  assert(/parley_errors_total\{code="PROTOCOL_VIOLATION"\} 1/.test(text), 'errors by code');
  assert(/parley_first_token_latency_ms_count 2/.test(text) && /parley_turn_duration_ms_bucket\{le="\+Inf"\} 2/.test(text), 'histograms');
  assert(/parley_active_sessions \d+/.test(text) && /parley_http_requests_total\{class="2xx"\} \d+/.test(text), 'gauges');
  // a client that leaves mid-reply: its turn is counted (as interrupted)
  await llm.script([{ text: 'A long reply. '.repeat(40), token_ms: 20 }]);
  const leaver = new Client(p.url);
  await leaver.open();
  await leaver.start();
  leaver.send({ type: 'text', text: 'Tell me everything.' });
  await leaver.waitFor('tts_start', () => true, 15000);
  leaver.close();
  await leaver.waitClosed();
  let after = '';
  for (let i = 0; i < 100 && !/parley_turns_total\{input="text"\} 3/.test(after); i++)
    after = (await get(p.http, '/metrics')).buf.toString(); // the close is handled on the server's next loop turn
  assert(/parley_turns_total\{input="text"\} 3/.test(after) && /parley_turns_interrupted_total 1/.test(after),
    `a turn whose client left is counted: ${after.slice(0, 300)}`);
  await p.stop();
  llm.stop();
});

test('many writers at once: every turn stored, nothing lost', async () => {
  const llm = await startFakeLlm(['--ttft-ms', '20', '--token-ms', '5']);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const http = Array.from({ length: 8 }, (_, i) => post(p.http, '/v1/chat', { text: `HTTP writer ${i}` }));
  const ws = Array.from({ length: 3 }, async (_, i) => {
    const c = new Client(p.url);
    await c.open();
    await c.start();
    for (let t = 1; t <= 3; t++) {
      c.send({ type: 'text', text: `socket ${i} turn ${t}` });
      await c.waitFor('done', (m) => m.turn === t, 20000);
    }
    c.close();
  });
  const results = await Promise.all(http);
  await Promise.all(ws);
  assert(results.every((r) => r.status === 200), results.map((r) => r.status).join(','));
  // WebSocket turns are written by the writer thread after done; a stop
  // drains it, and a restart on the same file reads what landed.
  await p.stop();
  const q = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: p.dataDir } });
  const list = await get(q.http, '/v1/conversations?limit=100');
  const total = list.json.conversations.reduce((a, c) => a + c.messages, 0);
  assert(list.json.conversations.length === 11 && total === 34, `${list.json.conversations.length} conversations, ${total} messages`);
  await q.stop();
  llm.stop();
});

run();
