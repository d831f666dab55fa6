// Endpointing benchmark: flite sentences with a pause inside (after words
// that read as finished, 350 ms; after words that trail off, 600-700 ms),
// streamed in real time over the WebSocket, with the adaptive window
// (vad.min_silence_ms … vad.max_silence_ms) and with a fixed one. Prints,
// for each: premature cuts (a sentence answered in two turns: must be 0),
// the mean window that ended the turns (the server's endpoint_ms), speech
// end → first reply audio, and the LLM requests sent on a speculative final
// and dropped because the speaker went on.
//
// Usage: node bench/endpointing.mjs [--parley build/parley] [--set key=value ...]
import os from 'node:os';
import { sets, pct } from './common.mjs';
import { startFakeLlm, startParley, Client, makeSpeech, silence, concat, trimQuiet } from '../tests/e2e/lib.mjs';

const SENTENCES = [
  ['What time is it', 350, 'in Paris right now?'],
  ['Can you set a timer', 350, 'for ten minutes?'],
  ['What is the weather like', 350, 'in London today?'],
  ['How far is the moon', 350, 'from the earth?'],
  ['I would like a large pizza with', 700, 'mushrooms and olives.'],
  ['Tell me about', 600, 'the history of Rome.'],
  ['My favourite colour is', 600, 'blue.'],
  ['Play some music by', 700, 'the Beatles.'],
  ['I need to buy milk and', 700, 'bread and eggs.'],
  ['Remind me to call', 600, 'my mother tomorrow.'],
  ['What is the capital of France?', 0, ''],
  ['Thank you very much.', 0, ''],
];
const clip = (t) => trimQuiet(makeSpeech(t, { padBefore: 0, padAfter: 0 }));
const audio = SENTENCES.map(([a, pause, b]) => concat(silence(300), clip(a), ...(b ? [silence(pause), clip(b)] : []), silence(1500)));

async function run(label, extra) {
  const llm = await startFakeLlm();
  await llm.script([], { text: 'Sure. Here you are.', ttft_ms: 100, token_ms: 30 });
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: [...sets, ...extra] });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  let cuts = 0;
  const windows = [], toAudio = [];
  for (let i = 0; i < audio.length; i++) {
    const from = c.events.length;
    await c.streamAudio(audio[i]);
    const done = await c.waitFor('done', () => true, 20000, from);
    // A cut sentence is answered twice: wait a moment for a second final.
    await new Promise((r) => setTimeout(r, 300));
    const finals = c.events.slice(from).filter((e) => e.msg && e.msg.type === 'transcript_final' && e.msg.text);
    if (finals.length > 1) cuts++;
    windows.push(done.metrics.endpoint_ms);
    toAudio.push(done.metrics.first_audio_ms);
    if (process.env.BENCH_VERBOSE)
      console.log(JSON.stringify({ finals: finals.map((e) => e.msg.text), ...done.metrics }));
  }
  const metrics = await (await fetch(`${p.http}/metrics`)).text();
  const wasted = Number(/parley_speculative_starts_total\{outcome="wasted"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  c.close();
  await p.stop();
  llm.stop();
  const mean = windows.reduce((a, b) => a + b, 0) / windows.length;
  console.log(`${label.padEnd(38)} ${String(cuts).padStart(3)} / ${audio.length}   ${mean.toFixed(0).padStart(6)} ms   ` +
    `p50 ${pct(toAudio, 50).toFixed(0)}  p95 ${pct(toAudio, 95).toFixed(0)} ms   ${wasted}`);
}

console.log(`parley endpointing benchmark — ${os.cpus().length} × ${os.cpus()[0].model}, ${new Date().toISOString()}`);
console.log(`${SENTENCES.length} flite sentences: 4 with a 350 ms pause after finished-looking words, 6 with 600-700 ms after trailing words, 2 without`);
console.log(`${'window'.padEnd(38)} cuts        mean window    speech end → first audio   wasted LLM requests`);
await run('adaptive (default: 500 … 1000 ms)', []);
await run('adaptive with a short window (400 …)', ['--set', 'vad.min_silence_ms=400']);
await run('fixed 500 ms', ['--set', 'vad.max_silence_ms=500', '--set', 'vad.min_silence_ms=500']);
process.exit(0);
