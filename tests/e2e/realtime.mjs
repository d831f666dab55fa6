// The OpenAI Realtime API at /v1/realtime, driven by the official `openai`
// SDK's OpenAIRealtimeWS (wss only: parley's self-signed TLS, a user's token
// as the API key): a spoken question answered with audio and transcript
// deltas, a typed turn, a barge-in ending the response cancelled, truncate
// leaving only what was heard in the history, a client function tool round
// trip, G.711, and bad events each answered with an error naming it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { test, run, assert, startFakeLlm, startParley, makeSpeech, silence, concat, parleyBin, tmpDir, Waitable } from './lib.mjs';

let llm, parley, ca, token;

function cli(dataDir, ...args) {
  return execFileSync(parleyBin, args, { env: { ...process.env, PARLEY_DATA_DIR: dataDir }, encoding: 'utf8' });
}

// 16 kHz speech to the API's 24 kHz (linear interpolation).
function to24k(pcm) {
  const out = new Int16Array(Math.floor(pcm.length * 1.5));
  for (let i = 0; i < out.length; i++) {
    const x = i / 1.5, k = Math.floor(x), f = x - k;
    out[i] = Math.round(pcm[k] * (1 - f) + (k + 1 < pcm.length ? pcm[k + 1] : 0) * f);
  }
  return out;
}

// An SDK connection with every event recorded and waitable.
class Realtime extends Waitable {
  constructor(rt) {
    super();
    Object.assign(this, { rt, events: [], errors: [], closed: false });
    rt.on('event', (ev) => {
      this.events.push(ev);
      this._check();
    });
    rt.on('error', (e) => this.errors.push(e)); // API errors arrive as events too
    rt.socket.on('close', () => {
      this.closed = true;
      this._check();
    });
  }
  describe() {
    return this.events.map((e) => e.type).join(' ');
  }
  waitFor(type, pred = () => true, ms = 15000, from = 0) {
    return this.waitUntil(() => this.events.slice(from).find((e) => e.type === type && pred(e)), ms, type);
  }
  of(type, from = 0) {
    return this.events.slice(from).filter((e) => e.type === type);
  }
  send(ev) {
    this.rt.send(ev);
  }
  // Streams 24 kHz PCM in 100 ms appends at real-time pace.
  async speak(pcm24) {
    const step = 2400, t0 = performance.now();
    for (let i = 0, k = 0; i < pcm24.length; i += step, k++) {
      if (this.closed) return;
      const chunk = pcm24.subarray(i, i + step);
      this.send({ type: 'input_audio_buffer.append', audio: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64') });
      const wait = t0 + (k + 1) * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  close() {
    this.rt.close();
  }
}

async function connect({ apiKey = token } = {}) {
  const client = new OpenAI({ apiKey, baseURL: `https://127.0.0.1:${parley.port}/v1` });
  const c = new Realtime(new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca } }, client));
  await c.waitFor('session.created');
  return c;
}

const reply = 'It is sunny and warm today. You will not need an umbrella.';
const chats = async () => (await llm.requests()).filter((r) => r.path === '/api/chat');

test('a spoken question: VAD events, transcription, then a response with audio and transcript deltas', async () => {
  await llm.reset();
  await llm.script([{ text: reply, ttft_ms: 100, token_ms: 30 }]);
  const c = await connect();
  const created = c.of('session.created')[0].session;
  assert(created.type === 'realtime' && created.audio.input.format.rate === 24000, JSON.stringify(created));
  c.send({ type: 'session.update', event_id: 'ev_upd', session: { type: 'realtime', instructions: 'Answer in one breath.',
    audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: { type: 'server_vad' } },
      output: { format: { type: 'audio/pcm', rate: 24000 } } } } });
  const updated = (await c.waitFor('session.updated')).session;
  assert(updated.instructions === 'Answer in one breath.' && updated.audio.input.turn_detection.type === 'server_vad', JSON.stringify(updated));
  await c.speak(to24k(concat(makeSpeech('What is the weather like today?'), silence(1200))));
  const done = await c.waitFor('response.done', () => true, 25000);
  assert(done.response.status === 'completed', JSON.stringify(done.response.status_details));
  const order = ['input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed',
    'conversation.item.input_audio_transcription.completed', 'response.created', 'response.output_item.added',
    'response.content_part.added', 'response.output_audio_transcript.delta', 'response.output_audio.delta',
    'response.output_audio.done', 'response.output_audio_transcript.done', 'response.content_part.done',
    'response.output_item.done', 'response.done'];
  const at = order.map((t) => c.events.findIndex((e) => e.type === t));
  assert(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]) || (order[k] === 'response.output_audio.delta' && i > at[k - 2])),
    `the sequence: ${order.map((t, k) => `${t}@${at[k]}`).join(' ')}`);
  const user = c.of('input_audio_buffer.committed')[0].item_id;
  const heard = c.of('conversation.item.input_audio_transcription.completed')[0];
  assert(heard.item_id === user && /weather/.test(heard.transcript) && /today/.test(heard.transcript), JSON.stringify(heard));
  const transcript = c.of('response.output_audio_transcript.delta').map((e) => e.delta).join('');
  assert(transcript === reply, `transcript deltas add up to the reply: ${transcript}`);
  assert(c.of('response.output_audio_transcript.done')[0].transcript === reply, 'transcript done');
  const bytes = c.of('response.output_audio.delta').reduce((n, e) => n + Buffer.from(e.delta, 'base64').length, 0);
  const seconds = bytes / 2 / 24000;
  assert(seconds > 2 && seconds < 8, `${seconds.toFixed(2)} s of 24 kHz reply audio`);
  const item = done.response.output[0];
  assert(item.type === 'message' && item.role === 'assistant' && item.content[0].transcript === reply, JSON.stringify(item));
  const req = (await chats()).at(-1).body.messages;
  assert(req[0].role === 'system' && req[0].content.startsWith('Answer in one breath.'), `instructions as the system prompt: ${req[0].content}`);
  assert(c.errors.length === 0, `no errors: ${c.errors.map((e) => e.message)}`);
  c.close();
});

test('a typed turn: conversation.item.create, then response.create', async () => {
  await llm.reset();
  await llm.script([{ text: 'Paris is the capital of France.' }]);
  const c = await connect();
  c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is the capital of France?' }] } });
  const added = await c.waitFor('conversation.item.added');
  assert(added.item.role === 'user' && added.item.content[0].text === 'What is the capital of France?', JSON.stringify(added));
  assert(added.previous_item_id !== added.item.id, 'previous_item_id names the item before');
  assert(!c.of('response.created').length, 'no response before response.create');
  c.send({ type: 'response.create' });
  const done = await c.waitFor('response.done', () => true, 20000);
  assert(done.response.status === 'completed' && done.response.output[0].content[0].transcript === 'Paris is the capital of France.',
    JSON.stringify(done.response));
  assert((await chats()).at(-1).body.messages.at(-1).content === 'What is the capital of France?', 'the text reached the LLM');
  c.close();
});

test('barge-in: speech over the response ends it cancelled (turn_detected); truncate keeps only what was heard', async () => {
  await llm.reset();
  const long = 'The ocean covers most of the planet and holds countless creatures. '.repeat(4);
  await llm.script([{ text: long, token_ms: 10 }, { text: 'It is noon in London.' }]);
  const c = await connect();
  c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Tell me about the ocean.' }] } });
  c.send({ type: 'response.create' });
  await c.waitUntil(() => c.of('response.output_audio.delta').length >= 10, 20000, 'reply audio');
  const item = c.of('response.output_item.added')[0].item.id;
  await c.speak(to24k(concat(makeSpeech('What time is it in London?'), silence(1200))));
  const cancelled = await c.waitFor('response.done', (e) => e.response.status === 'cancelled', 15000);
  assert(cancelled.response.status_details.reason === 'turn_detected', JSON.stringify(cancelled.response.status_details));
  assert(c.events.findIndex((e) => e.type === 'input_audio_buffer.speech_started') < c.events.indexOf(cancelled), 'speech first');
  c.send({ type: 'conversation.item.truncate', item_id: item, content_index: 0, audio_end_ms: 1500 });
  const truncated = await c.waitFor('conversation.item.truncated');
  assert(truncated.item_id === item && truncated.audio_end_ms === 1500, JSON.stringify(truncated));
  // The question over the reply is answered; the history the LLM gets holds only what was heard.
  await c.waitFor('response.done', (e) => e.response.status === 'completed', 25000);
  const msgs = (await chats()).at(-1).body.messages;
  const said = msgs.find((m) => m.role === 'assistant');
  assert(said && said.content.length > 0 && said.content.length < long.length / 3, `heard only: "${said && said.content}"`);
  c.close();
});

test('a client function tool: the call as a function_call item, its output continues the answer', async () => {
  await llm.reset();
  await llm.script([
    { text: '', tool_calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] },
    { text: 'It is snowing in Oslo.' },
  ]);
  const c = await connect();
  c.send({ type: 'session.update', session: { type: 'realtime', tools: [{ type: 'function', name: 'get_weather',
    description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }] } });
  await c.waitFor('session.updated');
  c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather in Oslo?' }] } });
  c.send({ type: 'response.create' });
  const args = await c.waitFor('response.function_call_arguments.done', () => true, 15000);
  assert(args.name === 'get_weather' && JSON.parse(args.arguments).city === 'Oslo', JSON.stringify(args));
  const first = await c.waitFor('response.done');
  const call = first.response.output.find((o) => o.type === 'function_call');
  assert(call && call.call_id === args.call_id, JSON.stringify(first.response.output));
  const offered = (await chats())[0].body.tools.map((t) => t.function.name);
  assert(offered.includes('get_weather') && offered.includes('memory_save'), `the client's tool beside parley's: ${offered}`);
  c.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: args.call_id, output: '{"sky":"snow"}' } });
  c.send({ type: 'response.create' });
  const second = await c.waitFor('response.done', (e) => e.response.id !== first.response.id, 20000);
  assert(second.response.output[0].content[0].transcript === 'It is snowing in Oslo.', JSON.stringify(second.response));
  const tool = (await chats())[1].body.messages.find((m) => m.role === 'tool');
  assert(tool && tool.content === '{"sky":"snow"}', `the output went to the model: ${JSON.stringify(tool)}`);
  // tool_choice alone: "none" hides the client's tools, "auto" brings them back.
  for (const [choice, offered] of [['none', false], ['auto', true]]) {
    await llm.script([{ text: 'Fine.' }]);
    const from = c.events.length;
    c.send({ type: 'session.update', session: { tool_choice: choice } });
    await c.waitFor('session.updated', () => true, 5000, from);
    c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'And now?' }] } });
    c.send({ type: 'response.create' });
    await c.waitFor('response.done', () => true, 15000, from);
    const names = ((await chats()).at(-1).body.tools || []).map((t) => t.function.name);
    assert(names.includes('get_weather') === offered, `tool_choice ${choice}: ${names}`);
  }
  assert(c.errors.length === 0, `no errors: ${c.errors.map((e) => e.message)}`);
  c.close();
});

test('G.711 μ-law in and out', async () => {
  await llm.reset();
  await llm.script([{ text: 'Sure.' }]);
  const c = await connect();
  c.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } }, output: { format: { type: 'audio/pcmu' } } } } });
  const s = (await c.waitFor('session.updated')).session;
  assert(s.audio.input.format.type === 'audio/pcmu' && s.audio.output.format.type === 'audio/pcmu', JSON.stringify(s.audio));
  // 16 kHz speech to 8 kHz μ-law (every other sample; flite has little above 4 kHz).
  const speech = concat(makeSpeech('What is the weather like today?'), silence(1200));
  const ulaw = (v) => {
    const sign = v < 0 ? 0x80 : 0;
    let x = Math.min(Math.abs(v), 32635) + 0x84, exp = 7;
    for (let m = 0x4000; !(x & m) && exp > 0; m >>= 1) exp--;
    return ~(sign | (exp << 4) | ((x >> (exp + 3)) & 0x0f)) & 0xff;
  };
  const bytes = Buffer.alloc(Math.floor(speech.length / 2));
  for (let i = 0; i < bytes.length; i++) bytes[i] = ulaw(speech[2 * i]);
  const t0 = performance.now();
  for (let i = 0, k = 0; i < bytes.length; i += 800, k++) {
    c.send({ type: 'input_audio_buffer.append', audio: bytes.subarray(i, i + 800).toString('base64') });
    const wait = t0 + (k + 1) * 100 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const heard = await c.waitFor('conversation.item.input_audio_transcription.completed', () => true, 20000);
  assert(/weather/.test(heard.transcript), heard.transcript);
  await c.waitFor('response.done', () => true, 20000);
  const out = c.of('response.output_audio.delta').reduce((n, e) => n + Buffer.from(e.delta, 'base64').length, 0);
  assert(out > 8000 * 0.3 && out < 8000 * 3, `${out} bytes of 8 kHz μ-law for "Sure."`);
  c.close();
});

test('bad client events: each gets an error with its event_id, and the session goes on', async () => {
  const c = await connect();
  const cases = [
    [{ type: 'dance', event_id: 'e1' }, 'unknown_event'],
    [{ type: 'input_audio_buffer.append', audio: '***not base64***', event_id: 'e2' }, 'invalid_value'],
    [{ type: 'input_audio_buffer.append', audio: 'AAAA', event_id: 'e2b' }, 'invalid_value'], // 3 bytes: not whole samples
    [{ type: 'session.update', session: { audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } }, event_id: 'e3' }, 'invalid_value'],
    [{ type: 'session.update', session: { type: 'transcription' }, event_id: 'e4' }, 'invalid_value'],
    [{ type: 'session.update', session: { tools: [{ type: 'mcp', server_url: 'x' }] }, event_id: 'e5' }, 'invalid_value'],
    [{ type: 'response.cancel', event_id: 'e6' }, 'response_cancel_not_active'],
    [{ type: 'input_audio_buffer.commit', event_id: 'e7' }, 'input_audio_buffer_commit_empty'],
    [{ type: 'conversation.item.truncate', item_id: 'item_nope', content_index: 0, audio_end_ms: 10, event_id: 'e8' }, 'invalid_value'],
    [{ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_x', output: 'x' }, event_id: 'e9' }, 'invalid_value'],
    [{ type: 'response.create', event_id: 'e10' }, 'no_input'],
    [{ type: 'conversation.item.delete', item_id: 'x', event_id: 'e11' }, 'unsupported_event'],
  ];
  for (const [ev, code] of cases) {
    const from = c.events.length;
    c.send(ev);
    const e = await c.waitFor('error', () => true, 5000, from);
    assert(e.error.code === code && e.error.event_id === ev.event_id, `${ev.type}: ${JSON.stringify(e.error)}`);
  }
  // Not JSON at all, through the socket itself.
  const from = c.events.length;
  c.rt.socket.send('not json');
  const e = await c.waitFor('error', () => true, 5000, from);
  assert(e.error.code === 'invalid_json', JSON.stringify(e.error));
  // A large event is taken (the receive buffer grows to 1 MiB)...
  const mark = c.events.length;
  c.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(600 * 1024).toString('base64') });
  c.send({ type: 'session.update', session: { instructions: 'Big one.' } });
  await c.waitFor('session.updated', () => true, 5000, mark);
  assert(!c.of('error', mark).length, `800 KiB of base64 taken: ${JSON.stringify(c.of('error', mark))}`);
  // ...one over 1 MiB is dropped with an error; the connection stays.
  const before = c.events.length;
  c.send({ type: 'input_audio_buffer.append', audio: 'A'.repeat(1100 * 1024) });
  const big = await c.waitFor('error', () => true, 5000, before);
  assert(/limited to/.test(big.error.message), JSON.stringify(big.error));
  c.send({ type: 'session.update', session: { instructions: 'Still here.' } });
  assert((await c.waitFor('session.updated', (x) => x.session.instructions === 'Still here.')).session, 'the session goes on');
  assert(!c.closed, 'still open');
  c.close();
});

test('a client that vanishes mid-append leaves the server serving', async () => {
  const c = await connect();
  const speech = to24k(makeSpeech('What is the weather like today?'));
  for (let i = 0; i < 12; i++) c.send({ type: 'input_audio_buffer.append', audio: Buffer.from(speech.buffer, i * 4800, 4800).toString('base64') });
  c.rt.socket.terminate();
  const d = await connect();
  assert(d.of('session.created').length === 1, 'a new session opens');
  d.close();
});

test('a wrong token is refused', async () => {
  const client = new OpenAI({ apiKey: 'not-a-token', baseURL: `https://127.0.0.1:${parley.port}/v1` });
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca } }, client);
  const seen = [];
  rt.on('event', (ev) => seen.push(ev));
  rt.on('error', () => {});
  await new Promise((resolve) => rt.socket.on('close', resolve));
  const err = seen.find((e) => e.type === 'error');
  assert(err && err.error.code === 'UNAUTHORIZED' && !seen.some((e) => e.type === 'session.created'), JSON.stringify(seen));
});

const certDir = path.join(tmpDir, 'rt-tls');
cli(tmpDir, 'tls', 'self-signed', certDir);
ca = fs.readFileSync(path.join(certDir, 'parley-ca.crt'));
const dataDir = fs.mkdtempSync(path.join(tmpDir, 'rt-data-'));
token = cli(dataDir, 'users', 'add', 'realtime').trim().split('\n').pop();
llm = await startFakeLlm();
parley = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir, PARLEY_AUTH: 'on',
  PARLEY_TLS_CERT: path.join(certDir, 'parley.crt'), PARLEY_TLS_KEY: path.join(certDir, 'parley.key') } });
await run();
