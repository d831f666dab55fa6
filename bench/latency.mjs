// Latency benchmark: streams flite speech over the WebSocket in real time to
// parley, against the test LLM server (100 ms to first token, 30 ms a token),
// and prints p50/p95 of
//   speech end → first audio byte (as the client sees it),
//   the server's own share of that (minus the silence window that ended the
//   turn and the LLM's time to its first phrase that fell after it),
//   speech onset → agent_interrupted for barge-ins,
//   how often the LLM was asked on the speculative final, and how many of
//   those requests were wasted (the speaker went on),
//   the ASR real-time factor,
// plus parley's resident memory.
//
// Usage: node bench/latency.mjs [--parley build/parley] [--turns 20] [--barge 20]
//                               [--set key=value ...]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { arg, sets, pct, QUESTIONS } from './common.mjs';
import {
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
} from '../tests/e2e/lib.mjs';

const TURNS = Number(arg('--turns', 20));
const BARGES = Number(arg('--barge', 20));
const FRAME_MS = 20;

const utterances = QUESTIONS;
const reply =
  'Well, from what I can see, the weather today looks sunny with a light breeze. Expect clear skies tonight.';

const fmt = (xs) => (xs.length ? `p50 ${pct(xs, 50).toFixed(1)}  p95 ${pct(xs, 95).toFixed(1)}  (n=${xs.length})` : 'n/a');

// Index of the first/last 20 ms frame whose RMS is above -40 dBFS.
function voicedFrames(pcm) {
  const n = (16000 * FRAME_MS) / 1000;
  let first = -1,
    last = -1;
  for (let f = 0; f * n < pcm.length; f++) {
    let e = 0;
    const end = Math.min(pcm.length, (f + 1) * n);
    for (let i = f * n; i < end; i++) e += pcm[i] * pcm[i];
    const rms = Math.sqrt(e / (end - f * n)) / 32768;
    if (rms > 0.01) {
      if (first < 0) first = f;
      last = f;
    }
  }
  return { first, last };
}

// Streams pcm in real time and records when each frame was sent.
async function streamTimed(c, pcm) {
  const n = (16000 * FRAME_MS) / 1000;
  const sent = [];
  const t0 = performance.now();
  for (let i = 0, k = 0; i < pcm.length; i += n, k++) {
    const chunk = pcm.subarray(i, Math.min(i + n, pcm.length));
    c.sendBinary(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    sent.push(performance.timeOrigin + performance.now());
    const wait = t0 + (k + 1) * FRAME_MS - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return sent;
}

async function latencyLine(turn) {
  for (let i = 0; i < 100; i++) {
    const line = parley
      .log()
      .split('\n')
      .find((l) => l.includes('"event":"latency"') && l.includes(`"turn":${turn},`));
    if (line) return JSON.parse(line).metrics;
    await new Promise((r) => parley.child.stderr.once('data', r));
  }
  return null;
}

const llm = await startFakeLlm(['--ttft-ms', '100', '--token-ms', '30']);
await llm.script([], { text: reply, ttft_ms: 100, token_ms: 30 });
const parley = await startParley({ env: { PARLEY_LLM_URL: llm.base, STREAM_LOG_LATENCY: '1' }, args: sets });

const speech = utterances.map((u) => {
  const pcm = makeSpeech(u, { padBefore: 0.3, padAfter: 1.2 });
  return { text: u, pcm, ...voicedFrames(pcm) };
});

const c = new Client(parley.url);
await c.open();
await c.start();

const e2e = [],
  own = [],
  rtf = [],
  finals = [],
  phraseWait = [];
let early = 0; // turns whose LLM request went out before the endpoint
const windows = []; // the silence that ended each turn (endpoint_ms)
for (let t = 0; t < TURNS; t++) {
  const s = speech[t % speech.length];
  const from = c.events.length;
  const sent = await streamTimed(c, s.pcm);
  const speechEnd = sent[s.last];
  const audio = await c.waitUntil(() => c.events.slice(from).find((e) => e.binary), 20000, 'reply audio');
  const turnMsg = await c.waitFor('tts_start', () => true, 5000, from);
  c.send({ type: 'cancel' }); // enough of this reply; next turn
  await c.waitFor('agent_interrupted', (m) => m.turn === turnMsg.turn, 5000, from);
  // An interrupted turn sends no done; its marks are in the latency log line.
  const toAudio = audio.t - speechEnd;
  e2e.push(toAudio);
  const m = await latencyLine(turnMsg.turn);
  if (m) {
    const llmToPhrase = m.first_phrase_ms - m.llm_request_ms;
    // The LLM's wait that still lies after the endpoint: all of it when the
    // request follows the endpoint, what is left of it after a speculative start.
    const llmAfterEndpoint = Math.max(0, m.first_phrase_ms - Math.max(m.llm_request_ms, m.endpoint_ms));
    // The window that ended the turn: adaptive (vad.min/max_silence_ms), so
    // the server's endpoint mark, not the nominal vad.silence_ms.
    own.push(toAudio - m.endpoint_ms - llmAfterEndpoint);
    windows.push(m.endpoint_ms);
    phraseWait.push(llmToPhrase);
    if (m.llm_request_ms < m.endpoint_ms) early++;
    finals.push(m.final_transcript_ms - m.endpoint_ms);
    if (m.asr_rtf) rtf.push(m.asr_rtf);
    if (process.env.BENCH_VERBOSE) console.log(JSON.stringify({ toAudio: Math.round(toAudio), ...m }));
  }
}

// Barge-ins: speech over a reply that is playing.
const barge = [];
for (let b = 0; b < BARGES; b++) {
  const s = speech[(b + 2) % speech.length];
  const from = c.events.length;
  c.send({ type: 'text', text: 'Tell me about the weather.' });
  await c.waitUntil(() => c.events.slice(from).find((e) => e.binary), 20000, 'reply audio');
  const turnMsg = await c.waitFor('tts_start', () => true, 5000, from);
  const sending = streamTimed(c, s.pcm);
  const intr = await c.waitFor('agent_interrupted', (m) => m.turn === turnMsg.turn, 10000, from);
  const sent = await sending;
  barge.push(c.events.find((e) => e.msg === intr).t - sent[s.first]);
  // Let the barge-in utterance's own reply start, then stop it too.
  const next = await c.waitFor('tts_start', (m) => m.turn > turnMsg.turn, 20000, from);
  c.send({ type: 'cancel' });
  await c.waitFor('agent_interrupted', (m) => m.turn === next.turn, 5000, from);
}

const metricsText = await (await fetch(`${parley.http}/metrics`)).text();
const counter = (outcome) => Number(new RegExp(`parley_speculative_starts_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metricsText)?.[1] ?? 0);
const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${parley.child.pid}/status`, 'utf8'))[1]);
const cpu = os.cpus()[0].model;
console.log(`parley latency benchmark — ${os.cpus().length} × ${cpu}, ${new Date().toISOString()}`);
console.log(`config: defaults${sets.length ? ' + ' + sets.filter((x) => x !== '--set').join(' ') : ''}; LLM: 100 ms to first token, 30 ms a token`);
console.log(`speech end → first audio byte (ms):        ${fmt(e2e)}`);
console.log(`silence window that ended the turn (ms):   ${fmt(windows)}`);
console.log(`server's own share (ms):                   ${fmt(own)}`);
console.log(`  of which endpoint → final transcript:    ${fmt(finals)}`);
console.log(`LLM request → first phrase (ms):           ${fmt(phraseWait)}`);
console.log(`barge-in: speech onset → interrupted (ms): ${fmt(barge)}`);
const turnsAll = TURNS + 2 * BARGES; // the barge-in runs speak twice a round: a typed turn, a spoken one
console.log(`speculative starts: ${early} of ${TURNS} timed turns asked the LLM before the endpoint; ` +
  `all turns: ${counter('shown')} shown, ${counter('wasted')} wasted (${(100 * counter('wasted') / turnsAll).toFixed(1)} per 100 turns)`);
console.log(`ASR real-time factor:                      ${rtf.length ? `p50 ${pct(rtf, 50).toFixed(3)}  p95 ${pct(rtf, 95).toFixed(3)}` : 'n/a'}`);
console.log(`parley resident memory after the run:      ${(rss / 1024).toFixed(1)} MiB`);
c.close();
await parley.stop();
llm.stop();
process.exit(0);
