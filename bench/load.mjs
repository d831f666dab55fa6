// Load benchmark: N sessions in conversation at once over the WebSocket, each
// like a person with an open microphone (20 ms frames at real time, always):
// it speaks a flite sentence (~2-3 s), hears the whole reply, pauses 1-4 s,
// and speaks again, for T turns. Starts are spread over --spread seconds.
// Before the load, one session alone runs the same turns: its p50 is the
// yardstick (the goal: p95 under load at most twice it).
//
// Prints turns answered, errors by code, BUSY refusals (and the rule that
// refused them), p50/p95 of speech end → first reply audio (overall and by
// turn), the lone p50, parley's CPU (share of all cores), peak resident
// memory, the recogniser's CPU per audio second, and the server's own marks
// (endpoint, final, LLM request ... first audio) for answered turns.
//
// --until final: a turn ends at its final transcript, and latency is speech
// end → final: recognition's own capacity, whatever the LLM (used to compare
// asr.partials modes, and Whisper models without trained weights, which
// write no words to answer).
//
// Usage: node bench/load.mjs [--sessions 50] [--turns 3] [--spread 10]
//          [--until reply|final] [--voices person|mixed] [--parley build/parley]
//          [--set key=value ...] [--json]
import fs from 'node:fs';
import os from 'node:os';
import { argv, arg, sets, pct, QUESTIONS } from './common.mjs';
import { startFakeLlm, startParley, Client, makeSpeech } from '../tests/e2e/lib.mjs';

const SESSIONS = Number(arg('--sessions', 50));
const TURNS = Number(arg('--turns', 3));
const SPREAD_S = Number(arg('--spread', 10));
const UNTIL_FINAL = arg('--until', 'reply') === 'final';
const FRAME = 320; // 20 ms at 16 kHz
const REPLY = 'Sure. It is sunny and mild today, with a light breeze.';

// A fixed, seeded order of pauses: runs compare like with like.
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

// One voice per person (slt for even ids, kal for odd), as people keep
// their voices; --voices mixed is the order of the rows before 2026-11-30,
// where a person's voice changed with every sentence.
const MIXED_VOICES = arg('--voices', 'person') === 'mixed';
const VOICES = ['slt', 'kal'];
const sentences = QUESTIONS;
const clipOf = (voice, text) => {
  const pcm = makeSpeech(text, { voice, padBefore: 0.2, padAfter: 0 });
  // The last voiced frame: speech end as a listener would mark it.
  let last = 0;
  for (let f = 0; f * FRAME < pcm.length; f++) {
    let e = 0;
    for (let k = f * FRAME; k < Math.min(pcm.length, (f + 1) * FRAME); k++) e += pcm[k] * pcm[k];
    if (Math.sqrt(e / FRAME) / 32768 > 0.01) last = f;
  }
  return { pcm, lastFrame: last };
};
const clips = VOICES.map((voice) => sentences.map((text) => clipOf(voice, text)));
const clipFor = (id, t) => {
  const k = (id + t) % sentences.length;
  return clips[MIXED_VOICES ? k % 2 : id % 2][k];
};
const silentFrame = Buffer.alloc(FRAME * 2);
const MARKS = ['endpoint_ms', 'final_transcript_ms', 'llm_request_ms', 'first_token_ms', 'first_phrase_ms', 'first_audio_ms'];

// One simulated person. The microphone never stops: between clips it sends
// silence, frame by frame, on the same real-time clock.
async function person(url, id, startDelayMs, turns, out) {
  await new Promise((r) => setTimeout(r, startDelayMs));
  const c = new Client(url);
  try {
    await c.open();
  } catch (e) {
    out.errors.CONNECT = (out.errors.CONNECT || 0) + 1;
    return;
  }
  c.send({ type: 'start', sample_rate: 16000, format: 'pcm_s16le' });
  const first = await c.waitUntil(() => c.messages().find((m) => m.type === 'ready' || m.type === 'error'), 30000, 'ready').catch(() => null);
  if (!first || first.type === 'error') {
    if (first && first.code === 'BUSY') {
      out.busy++;
      // Which admission rule refused it: the setting its message names.
      const rule = (/\(((?:limits\.)?[a-z_.]+)/.exec(first.message || '') || [, 'other'])[1];
      out.busyBy[rule] = (out.busyBy[rule] || 0) + 1;
    }
    else out.errors[first ? first.code : 'NO_READY'] = (out.errors[first ? first.code : 'NO_READY'] || 0) + 1;
    c.close();
    return;
  }
  const t0 = performance.now();
  let k = 0; // frames sent
  const sendFrame = async (buf) => {
    if (c.closed) return;
    c.sendBinary(buf);
    k++;
    const wait = t0 + k * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
  const seenErrors = new Set();
  for (let t = 0; t < turns && !c.closed; t++) {
    const clip = clipFor(id, t);
    const from = c.events.length;
    let speechEnd = 0;
    for (let f = 0; f * FRAME < clip.pcm.length; f++) {
      const chunk = clip.pcm.subarray(f * FRAME, (f + 1) * FRAME);
      const buf = Buffer.alloc(FRAME * 2);
      Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).copy(buf);
      await sendFrame(buf);
      if (f === clip.lastFrame) speechEnd = Date.now();
    }
    out.speechS = (out.speechS || 0) + clip.pcm.length / 16000;
    // Silence until the reply is done (or the turn failed), 30 s at most.
    let audioAt = 0;
    let outcome = null;
    const deadline = Date.now() + 30000;
    while (!outcome && Date.now() < deadline && !c.closed) {
      await sendFrame(silentFrame);
      const evs = c.events.slice(from);
      if (UNTIL_FINAL) {
        const fin = evs.find((e) => e.msg && (e.msg.type === 'transcript_final' || e.msg.type === 'error'));
        if (fin) {
          audioAt = fin.t;
          outcome = fin.msg.type === 'error' ? fin.msg : { type: 'done' };
        }
        continue;
      }
      if (!audioAt) audioAt = evs.find((e) => e.binary)?.t || 0;
      outcome = evs.find((e) => e.msg && (e.msg.type === 'done' || e.msg.type === 'error'))?.msg || null;
    }
    for (const e of c.events.slice(from)) {
      if (e.msg && e.msg.type === 'error' && !seenErrors.has(e)) {
        seenErrors.add(e);
        out.errors[e.msg.code] = (out.errors[e.msg.code] || 0) + 1;
      }
    }
    if (outcome && outcome.metrics && outcome.metrics.first_audio_ms != null) {
      // Where the time went, as the server marked it (ms after its speech end).
      out.marks = out.marks || {};
      for (const k of MARKS) if (outcome.metrics[k] != null) (out.marks[k] = out.marks[k] || []).push(outcome.metrics[k]);
    }
    if (outcome && outcome.metrics && outcome.metrics.asr_audio_ms) {
      out.asrAudioS = (out.asrAudioS || 0) + outcome.metrics.asr_audio_ms / 1000;
      (out.rtf = out.rtf || []).push(outcome.metrics.asr_rtf);
    }
    if (outcome && outcome.type === 'done' && audioAt) {
      out.answered++;
      out.latency.push(audioAt - speechEnd);
      ((out.byTurn = out.byTurn || [])[t] = out.byTurn[t] || []).push(audioAt - speechEnd);
    } else if (!outcome) {
      out.errors.NO_REPLY = (out.errors.NO_REPLY || 0) + 1;
    }
    // The pause before speaking again: 1-4 s of silence.
    const pause = 1000 + Math.floor(rand() * 3000);
    for (let ms = 0; ms < pause; ms += 20) await sendFrame(silentFrame);
  }
  c.close();
}

function procStat(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { cpuS: ticks / 100, hwmMiB: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024 };
}

const llm = await startFakeLlm();
await llm.script([], { text: REPLY, ttft_ms: 100, token_ms: 30 });
const parley = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: sets });

// The yardstick: one session alone, same turns.
const lone = { answered: 0, busy: 0, busyBy: {}, errors: {}, latency: [] };
await person(parley.url, 0, 0, Math.max(3, TURNS), lone);

const load = { answered: 0, busy: 0, busyBy: {}, errors: {}, latency: [] };
const before = procStat(parley.child.pid);
const tStart = performance.now();
const people = [];
for (let i = 0; i < SESSIONS; i++)
  people.push(person(parley.url, i, SESSIONS > 1 ? Math.round((i * SPREAD_S * 1000) / (SESSIONS - 1)) : 0, TURNS, load));
await Promise.all(people);
const wallS = (performance.now() - tStart) / 1000;
const after = procStat(parley.child.pid);
await parley.stop();
llm.stop();

const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
const result = {
  sessions: SESSIONS,
  turns: SESSIONS * TURNS,
  answered: load.answered,
  errors,
  error_codes: load.errors,
  busy: load.busy,
  busy_by_rule: load.busyBy,
  p50_ms: Math.round(pct(load.latency, 50)),
  p95_ms: Math.round(pct(load.latency, 95)),
  lone_p50_ms: Math.round(pct(lone.latency, 50)),
  cpu_pct: Math.round((100 * (after.cpuS - before.cpuS)) / wallS / os.cpus().length),
  peak_rss_mib: Math.round(after.hwmMiB),
  // Everything parley spent (VAD, recognition, synthesis...) per second of
  // speech the sessions sent.
  cpu_s_per_speech_s: Number(((after.cpuS - before.cpuS) / (load.speechS || 1)).toFixed(3)),
  // The recogniser's own CPU per second of audio it decoded (each answered
  // turn's utterance), and that audio against the clips sent.
  asr_rtf_p50: load.rtf ? Number(pct(load.rtf, 50).toFixed(3)) : null,
  asr_rtf_p95: load.rtf ? Number(pct(load.rtf, 95).toFixed(3)) : null,
  lone_asr_rtf_p50: lone.rtf ? Number(pct(lone.rtf, 50).toFixed(3)) : null,
  asr_audio_s: load.asrAudioS ? Number(load.asrAudioS.toFixed(1)) : null,
};
if (argv.includes('--json')) {
  console.log(JSON.stringify(result));
} else {
  console.log(`parley load benchmark — ${os.cpus().length} × ${os.cpus()[0].model}, ${new Date().toISOString()}`);
  console.log(`config: defaults${sets.length ? ' + ' + sets.filter((x) => x !== '--set').join(' ') : ''}; LLM: 100 ms to first token, 30 ms a token`);
  if (UNTIL_FINAL) console.log('--until final: "answered" counts final transcripts; latency is speech end → final transcript');
  console.log(
    `| sessions | turns | answered | errors | BUSY | p50 ms | p95 ms | lone p50 ms | CPU % | peak RSS MiB |\n` +
      `|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n` +
      `| ${result.sessions} | ${result.turns} | ${result.answered} | ${result.errors} | ${result.busy} | ${result.p50_ms} | ${result.p95_ms} | ${result.lone_p50_ms} | ${result.cpu_pct} | ${result.peak_rss_mib} |`,
  );
  console.log(`parley's CPU per second of speech sent: ${result.cpu_s_per_speech_s} s`);
  if (result.asr_rtf_p50 !== null)
    console.log(
      `recogniser CPU per second of utterance audio: p50 ${result.asr_rtf_p50}, p95 ${result.asr_rtf_p95} (alone: ${result.lone_asr_rtf_p50}); ` +
        `${result.asr_audio_s} s of utterance audio in answered turns`,
    );
  if (errors) console.log(`errors by code: ${JSON.stringify(load.errors)}`);
  if (load.busy) console.log(`BUSY by the rule that refused: ${JSON.stringify(load.busyBy)}`);
  if (load.byTurn)
    console.log(
      `by turn: ` + load.byTurn.map((xs, t) => `${t + 1}: p50 ${Math.round(pct(xs, 50))} / p95 ${Math.round(pct(xs, 95))} (n=${xs.length})`).join(', '),
    );
  if (load.marks)
    console.log(
      `server marks, ms after its speech end, p50/p95 under load (alone): ` +
        MARKS.filter((k) => load.marks[k])
          .map((k) => `${k.replace('_ms', '')} ${Math.round(pct(load.marks[k], 50))}/${Math.round(pct(load.marks[k], 95))} (${lone.marks && lone.marks[k] ? Math.round(pct(lone.marks[k], 50)) : '-'})`)
          .join(', '),
    );
}
process.exit(0);
