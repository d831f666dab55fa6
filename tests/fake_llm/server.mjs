// The test LLM server: speaks Ollama's /api/chat NDJSON stream and OpenAI's
// /v1/chat/completions SSE stream with scripted replies, adjustable time to
// first token and per-token delay, and failure modes (stall, drop, error, hang).
//
// Control API (JSON):
//   POST /_control/script   {"replies":[Reply...], "default": Reply}  queue replies
//   GET  /_control/requests the chat requests received so far (path, headers, body)
//   GET  /_control/stats    {"chat_requests": N, "chat_connections": M, "disconnects": D}:
//                           the TCP connections chat requests came on (reuse shows
//                           here), and streams the client closed before their end
//                           (a barge-in or cancel must show here)
//   POST /_control/reset    clear queue and request log
// Reply: {"text": "...", "ttft_ms": 100, "token_ms": 30,
//         "mode": "normal"|"stall"|"drop"|"error"|"hang"|"stream_error", "after_tokens": 2,
//         "status": 500, "error": "...", "tool_calls": [{"name": "...", "arguments": {...}}],
//         "tool_ms": 0 (between tool-call deltas), "thinking": "reasoning streamed first",
//         "thinking_ms": token_ms, "untidy": true (bytes in pieces cut anywhere, \r\n,
//         comments, null contents, split and interleaved tool calls, a usage chunk), "seed": 7}
//
// Embeddings: POST /api/embed (Ollama) and /v1/embeddings (OpenAI) answer a
// deterministic bag-of-words vector (each word hashed into one of 64
// dimensions), so texts that share words are near (and a few synonyms: movie
// and film). They are logged too.
//
// Speech (OpenAI-compatible), for the remote engines:
//   POST /v1/audio/speech          raw 24 kHz s16le PCM: 60 ms of tone per input
//                                  character, streamed in 20 ms chunks at real time
//   POST /v1/audio/transcriptions  multipart (file, model, language, …) → {"text"}
//   POST /_control/speech {"tts": {"mode": "normal"|"slow"|"error"|"drop",
//        "ttfb_ms", "status"}, "asr": {"text", "status", "delay_ms"}}
//
// Model lists: GET /api/tags (Ollama) and /v1/models (OpenAI) name the models
// it "has": mistral:latest and test by default (parley's default model is
// there), and any model is answered. Given --models a,b or POST
// /_control/models {"models": [...]}, it has those alone and, as the real
// servers do, answers a chat for any other model with 404.
//
// Usage: node server.mjs [--port N] [--ttft-ms N] [--token-ms N] [--models a,b];
// prints "LISTENING <port>".
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

let queue = [];
let speech = { tts: { mode: 'normal' }, asr: { text: 'hello world' } };
let requests = [];
let chatRequests = 0;
const chatSockets = new WeakSet();
let chatConnections = 0;
let disconnects = 0; // chat streams the client closed before their end
let models = opt('--models', 'mistral:latest,test').split(',').filter(Boolean);
let strictModels = args.includes('--models');
// Ollama's names: "mistral" is "mistral:latest".
const hasModel = (m) => models.some((x) => x === m || x === `${m}:latest`);
let fallback = {
  text: 'This is a scripted reply from the test server.',
  ttft_ms: Number(opt('--ttft-ms', 100)),
  token_ms: Number(opt('--token-ms', 30)),
};

// Splits text roughly as an LLM tokenizer would: words with their leading
// space, punctuation on its own.
export function tokenize(text) {
  return text.match(/\s*[A-Za-z0-9']+|\s*[^A-Za-z0-9'\s]|\s+$/gu) || []; // u: by code points, as real servers send (never half an emoji)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function nextReply() {
  return { ...fallback, ...(queue.length ? queue.shift() : {}) };
}

const EMBED_DIM = 64;
// A few synonyms share a dimension, as a real embedding model would place
// them close: a test can then find by meaning what keywords cannot.
const SYNONYMS = { movie: 'film', movies: 'film', flick: 'film', picture: 'film', favorite: 'favourite' };
export function embed(text) {
  const v = new Array(EMBED_DIM).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) || []) {
    const w = SYNONYMS[word] || word;
    let h = 2166136261;
    for (const c of w) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    v[h % EMBED_DIM] += 1;
  }
  return v;
}

const ollamaChunk = (model, content, extra = {}) =>
  JSON.stringify({
    model,
    created_at: new Date().toISOString(),
    message: { role: 'assistant', content, ...extra },
    done: false,
  }) + '\n';

const ollamaFinal = (model, count) =>
  JSON.stringify({
    model,
    created_at: new Date().toISOString(),
    message: { role: 'assistant', content: '' },
    done_reason: 'stop',
    done: true,
    total_duration: 1000000,
    load_duration: 1000,
    prompt_eval_count: 10,
    prompt_eval_duration: 1000,
    eval_count: count,
    eval_duration: 1000000,
  }) + '\n';

let chunkId = 0;
const openaiChunk = (model, delta, finish = null) =>
  'data: ' +
  JSON.stringify({
    id: `chatcmpl-${++chunkId}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: 'fp_test',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  }) +
  '\n\n';

// A small deterministic PRNG (mulberry32): untidy streams split the same
// way on every run, so a failure reproduces.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Writes a chunk of the stream. Untidy: as real servers and proxies do, the
// bytes arrive in pieces cut anywhere (inside a line, inside a UTF-8
// character), each piece its own TCP write.
async function send(res, text, untidy) {
  if (!untidy) return res.write(text);
  const bytes = Buffer.from(text);
  for (let off = 0; off < bytes.length; ) {
    const n = 1 + Math.floor(untidy() * 12);
    res.write(bytes.subarray(off, off + n));
    off += n;
    await sleep(1);
  }
}

async function stream(req, res, reply, flavour, model) {
  let closed = false, finished = false;
  res.on('close', () => {
    closed = true;
    if (!finished) disconnects++; // the client went away mid-stream (barge-in, cancel, timeout)
  });
  if (reply.mode === 'hang') return; // never answers; the client must time out
  await sleep(reply.ttft_ms);
  if (closed) return;
  if (reply.mode === 'error') {
    const status = reply.status || 500;
    const body =
      flavour === 'ollama'
        ? { error: reply.text || 'scripted failure' }
        : { error: { message: reply.text || 'scripted failure', type: 'server_error', code: status } };
    res.writeHead(status, { 'Content-Type': 'application/json' });
    finished = true;
    res.end(JSON.stringify(body));
    return;
  }
  const untidy = reply.untidy ? prng(reply.seed ?? 7) : null;
  // SSE lines end in \r\n on some servers; comments keep proxies awake
  const sse = (line) => (untidy ? line.replace(/\n/g, '\r\n') : line);
  const chunk = (delta, finish = null) => sse(openaiChunk(model, delta, finish));
  res.writeHead(200, {
    'Content-Type': flavour === 'ollama' ? 'application/x-ndjson' : 'text/event-stream',
    'Cache-Control': 'no-cache',
  });
  if (flavour === 'openai') {
    if (untidy) await send(res, ': keep-alive\r\n\r\n', untidy);
    await send(res, chunk({ role: 'assistant', content: untidy ? null : '' }), untidy);
  }
  // A thinking model reasons first: message.thinking (Ollama), reasoning_content (OpenAI-style)
  for (const piece of tokenize(reply.thinking || '')) {
    if (closed) return;
    await send(res, flavour === 'ollama' ? ollamaChunk(model, '', { thinking: piece })
      : chunk({ reasoning_content: piece, content: null }), untidy);
    await sleep(reply.thinking_ms ?? reply.token_ms);
  }
  const tokens = tokenize(reply.text || '');
  const stopAt = ['stall', 'drop', 'stream_error'].includes(reply.mode) ? reply.after_tokens ?? 2 : tokens.length;
  for (let i = 0; i < tokens.length && i < stopAt; i++) {
    if (closed) return;
    await send(res, flavour === 'ollama' ? ollamaChunk(model, tokens[i]) : chunk({ content: tokens[i] }), untidy);
    if (i + 1 < tokens.length) await sleep(reply.token_ms);
  }
  if (reply.mode === 'stall') return; // keeps the connection open, silent
  if (reply.mode === 'drop') {
    res.socket.destroy();
    return;
  }
  if (reply.mode === 'stream_error') { // an error object inside an open stream, as Ollama and vLLM send
    finished = true;
    const e = reply.error || 'the model crashed mid-reply';
    res.end(flavour === 'ollama' ? JSON.stringify({ error: e }) + '\n'
      : sse(`data: ${JSON.stringify({ error: { message: e, type: 'server_error' } })}\n\n`));
    return;
  }
  if (reply.tool_calls && reply.tool_calls.length) {
    if (flavour === 'ollama') {
      // Ollama sends each call whole, when it is complete
      await send(res, ollamaChunk(model, '', {
        tool_calls: reply.tool_calls.map((t) => ({ function: { name: t.name, arguments: t.arguments || {} } })),
      }), untidy);
    } else {
      // OpenAI-style deltas: id and name first (the name itself in pieces when
      // untidy), then the arguments in fragments; untidy interleaves the calls
      const parts = reply.tool_calls.map((t, index) => {
        const argsText = JSON.stringify(t.arguments || {});
        const names = untidy ? [t.name.slice(0, 3), t.name.slice(3)] : [t.name];
        const deltas = names.map((name, k) => ({ tool_calls: [{ index, ...(k ? {} : { id: `call_${index}`, type: 'function' }),
          function: { name, ...(k ? {} : { arguments: '' }) } }], ...(untidy ? { content: null } : {}) }));
        for (let k = 0; k < argsText.length; k += 8)
          deltas.push({ tool_calls: [{ index, function: { arguments: argsText.slice(k, k + 8) } }] });
        return deltas;
      });
      const order = [];
      if (untidy) for (let k = 0; parts.some((p) => k < p.length); k++) parts.forEach((p) => k < p.length && order.push(p[k]));
      else parts.forEach((p) => order.push(...p));
      for (const d of order) {
        if (closed) return;
        await send(res, chunk(d), untidy);
        if (reply.tool_ms) await sleep(reply.tool_ms); // slow deltas: a model writing a long call
      }
    }
  }
  if (closed) return;
  finished = true;
  if (flavour === 'ollama') {
    await send(res, ollamaFinal(model, tokens.length), untidy);
    res.end();
  } else {
    await send(res, chunk({}, reply.tool_calls ? 'tool_calls' : 'stop'), untidy);
    if (untidy) // usage arrives in a chunk of its own, with no choices
      await send(res, sse(`data: ${JSON.stringify({ id: 'chatcmpl-u', object: 'chat.completion.chunk', choices: [],
        usage: { prompt_tokens: 10, completion_tokens: tokens.length, total_tokens: 10 + tokens.length } })}\n\n`), untidy);
    await send(res, sse('data: [DONE]\n\n'), untidy);
    res.end();
  }
}

async function speak(req, res) {
  const body = JSON.parse((await readBody(req)) || '{}');
  const entry = { path: '/v1/audio/speech', body, at: Date.now() };
  requests.push(entry);
  const t = speech.tts;
  if (t.mode === 'error') {
    res.writeHead(t.status || 500, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'scripted speech failure' } }));
  }
  if (t.mode === 'slow') await sleep(t.ttfb_ms || 3000);
  if (res.destroyed) return;
  res.writeHead(200, { 'Content-Type': 'audio/pcm' });
  const rate = 24000;
  const total = Math.round((body.input || '').length * 0.06 * rate);
  const chunk = rate / 50; // 20 ms
  let closed = false;
  res.on('close', () => (closed = true));
  for (let off = 0; off < total && !closed; off += chunk) {
    const n = Math.min(chunk, total - off);
    const pcm = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * (off + i)) / rate)), i * 2);
    res.write(pcm);
    if (t.mode === 'drop') {
      // Cut off after the first chunk, mid-phrase.
      res.socket.destroy();
      return;
    }
    await sleep(20);
  }
  entry.finished_at = Date.now();
  res.end();
}

// Just enough multipart/form-data parsing for the transcription requests.
async function transcribe(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks);
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(req.headers['content-type'] || '');
  const entry = { path: '/v1/audio/transcriptions', authorization: req.headers.authorization || null, fields: {}, at: Date.now() };
  if (boundary) {
    const sep = Buffer.from(`--${boundary[1] || boundary[2]}`);
    let pos = raw.indexOf(sep);
    while (pos >= 0) {
      const next = raw.indexOf(sep, pos + sep.length);
      if (next < 0) break;
      const part = raw.subarray(pos + sep.length + 2, next - 2);
      const headEnd = part.indexOf('\r\n\r\n');
      const head = part.subarray(0, headEnd).toString();
      const content = part.subarray(headEnd + 4);
      const name = /name="([^"]+)"/.exec(head)?.[1];
      if (/filename=/.test(head)) {
        entry.file_bytes = content.length;
        entry.file_type = /Content-Type: ([^\r\n]+)/i.exec(head)?.[1];
        entry.file_riff = content.subarray(0, 4).toString() === 'RIFF';
      } else if (name) {
        entry.fields[name] = content.toString();
      }
      pos = next;
    }
  }
  requests.push(entry);
  const a = speech.asr;
  if (a.delay_ms) await sleep(a.delay_ms);
  if (a.status) {
    res.writeHead(a.status, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'scripted transcription failure' } }));
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ text: a.text }));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/_control/script') {
      const body = JSON.parse((await readBody(req)) || '{}');
      if (body.replies) queue.push(...body.replies);
      if (body.default) fallback = { ...fallback, ...body.default };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ queued: queue.length }));
    }
    if (req.method === 'GET' && url.pathname === '/_control/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ chat_requests: chatRequests, chat_connections: chatConnections, disconnects }));
    }
    if (req.method === 'GET' && url.pathname === '/_control/requests') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(requests));
    }
    if (req.method === 'POST' && url.pathname === '/_control/reset') {
      queue = [];
      requests = [];
      res.writeHead(200);
      return res.end('{}');
    }
    if (req.method === 'POST' && url.pathname === '/_control/speech') {
      const body = JSON.parse((await readBody(req)) || '{}');
      speech = { tts: { ...speech.tts, ...(body.tts || {}) }, asr: { ...speech.asr, ...(body.asr || {}) } };
      if (body.tts) speech.tts = { mode: 'normal', ...body.tts };
      if (body.asr) speech.asr = { text: speech.asr.text, ...body.asr };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(speech));
    }
    if (req.method === 'POST' && url.pathname === '/v1/audio/speech') return speak(req, res);
    if (req.method === 'POST' && url.pathname === '/v1/audio/transcriptions') return transcribe(req, res);
    if (req.method === 'POST' && url.pathname === '/_control/models') {
      models = JSON.parse((await readBody(req)) || '{}').models || [];
      strictModels = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ models }));
    }
    if (req.method === 'GET' && (url.pathname === '/api/tags' || url.pathname === '/v1/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(
        JSON.stringify(
          url.pathname === '/api/tags'
            ? { models: models.map((name) => ({ name, model: name, size: 4109865159 })) }
            : { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'test' })) },
        ),
      );
    }
    if (req.method === 'POST' && (url.pathname === '/api/embed' || url.pathname === '/v1/embeddings')) {
      const body = JSON.parse((await readBody(req)) || '{}');
      requests.push({ path: url.pathname, body, at: Date.now() });
      const inputs = Array.isArray(body.input) ? body.input : [body.input || ''];
      const vectors = inputs.map(embed);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(
        JSON.stringify(
          url.pathname === '/api/embed'
            ? { model: body.model, embeddings: vectors }
            : { object: 'list', model: body.model, data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })) },
        ),
      );
    }
    const flavour =
      url.pathname === '/api/chat' ? 'ollama' : url.pathname === '/v1/chat/completions' ? 'openai' : null;
    if (req.method !== 'POST' || !flavour) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
    }
    const raw = await readBody(req);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: 'request body is not JSON' }));
    }
    requests.push({ path: url.pathname, authorization: req.headers.authorization || null, body, at: Date.now() });
    chatRequests++;
    if (!chatSockets.has(req.socket)) {
      chatSockets.add(req.socket);
      chatConnections++;
    }
    if (!body.stream) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: 'this test server only streams' }));
    }
    if (strictModels && !hasModel(body.model)) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(
        JSON.stringify(
          flavour === 'ollama'
            ? { error: `model "${body.model}" not found, try pulling it first` }
            : { error: { message: `The model \`${body.model}\` does not exist.`, type: 'NotFoundError', code: 404 } },
        ),
      );
    }
    await stream(req, res, nextReply(), flavour, body.model || 'test');
  } catch (e) {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(e));
  }
});

server.listen(Number(opt('--port', 0)), '127.0.0.1', () => {
  console.log(`LISTENING ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
