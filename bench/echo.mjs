// Server-side echo cancellation: a client on a loudspeaker without its own
// canceller plays every reply back into its microphone at an echo level and
// a delay (its playout plus the room). For each cell of the grid, on a fresh
// server (the canceller starts cold): false interruptions over whole long
// replies, and how fast a real question spoken over a reply (the echo still
// leaking) interrupts it, from its onset.
//
// Usage: node bench/echo.mjs [--parley build/parley] [--replies 2]
//        [--levels -30,-20,-12] [--delays 60,150,300] [--set aec.enabled=false]
import { startFakeLlm, startParley, Client, makeSpeech, trimQuiet, EchoingMic } from '../tests/e2e/lib.mjs';

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.indexOf(n) >= 0 ? argv[argv.indexOf(n) + 1] : d);
if (arg('--parley')) process.env.PARLEY_BIN = arg('--parley');
const REPLIES = Number(arg('--replies', 2));
const LEVELS = arg('--levels', '-30,-20,-12').split(',').map(Number);
const DELAYS = arg('--delays', '60,150,300').split(',').map(Number);
const sets = argv.flatMap((a, i) => (a === '--set' ? ['--set', argv[i + 1]] : []));

const long =
  'The ocean covers most of the planet, and it holds countless creatures. Whales sing to each other across great distances. ' +
  'Coral reefs shelter fish of every colour. Turtles swim between them in the warm water.';
const questions = ['Wait, what time is it in London?', 'Hold on, what is the capital of France?'].map((t) =>
  trimQuiet(makeSpeech(t, { padBefore: 0, padAfter: 0 })),
);
const llm = await startFakeLlm();

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const after = (c, from, pred) => c.events.slice(from).find((e) => e.msg && pred(e.msg));

// Lets whatever the last trial set off (a false start's own turn, the
// question's answer) end: cancels it, the microphone still running, until a
// second passes with nothing new but state changes.
async function quiesce(c) {
  for (let i = 0; i < 20; i++) {
    const mark = c.events.length;
    await pause(1000);
    const fresh = c.events.slice(mark).filter((e) => e.msg && !['state', 'agent_interrupted'].includes(e.msg.type));
    if (!fresh.length && c.messages('state').at(-1)?.state === 'listening') return;
    c.send({ type: 'cancel' });
  }
}

async function cell(delayMs, gainDb) {
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: sets });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  const mic = new EchoingMic(c, { delayMs, gainDb }).start();
  let falseInterruptions = 0;
  for (let i = 0; i < REPLIES; i++) {
    await llm.script([], { text: long, ttft_ms: 50, token_ms: 10 });
    const from = c.events.length;
    c.send({ type: 'text', text: 'Tell me about the ocean.' });
    const tts = await c.waitFor('tts_start', () => true, 20000, from);
    await c.waitUntil(() => after(c, from, (m) => (m.type === 'state' && m.state === 'listening') || m.type === 'agent_interrupted'), 60000, 'the reply to end');
    const fi = after(c, from, (m) => m.type === 'agent_interrupted' && m.turn === tts.turn);
    if (fi) falseInterruptions++;
    await quiesce(c);
  }
  const lat = [];
  for (const q of questions) {
    await llm.script([], { text: long, ttft_ms: 50, token_ms: 10 });
    const from = c.events.length;
    c.send({ type: 'text', text: 'Tell me about the ocean.' });
    const tts = await c.waitFor('tts_start', () => true, 20000, from);
    await pause(1500); // the question comes 1.5 s into the reply
    const before = after(c, from, (m) => m.type === 'agent_interrupted' && m.turn === tts.turn);
    const onset = await mic.say(q);
    let intr = null;
    try {
      intr = await c.waitUntil(() => c.events.slice(from).find((e) => e.msg && e.msg.type === 'agent_interrupted' && e.msg.turn === tts.turn), 3000, 'interrupted');
    } catch {}
    lat.push(before ? 'before' : !intr ? 'none' : `${Math.round(intr.t - onset)}`);
    await quiesce(c);
  }
  await mic.stop();
  c.close();
  await p.stop();
  return { falseInterruptions, lat };
}

console.log(`echo over ${REPLIES} long replies a cell (fresh server each)${sets.length ? ', ' + sets.filter((x) => x !== '--set').join(' ') : ''}`);
console.log('| echo level | delay | false interruptions | question over the echo: onset → interrupted (ms) |');
console.log('|---|---|---|---|');
for (const g of LEVELS) {
  for (const d of DELAYS) {
    const r = await cell(d, g);
    console.log(`| ${g} dB | ${d} ms | ${r.falseInterruptions}/${REPLIES} | ${r.lat.join(', ')} |`);
  }
}
llm.stop();
process.exit(0);
