// The barge-in trade-off: for several confirmation lengths
// (barge_in.min_speech_ms), how fast real speech over the assistant
// interrupts it, and how often non-speech or echo does. Stimuli, played
// while a reply is speaking: a cough (150 ms pink-noise burst), keyboard
// clicks, the assistant's own voice leaking back at -25 dB, and a "yeah".
//
// Usage: node bench/barge_in_tradeoff.mjs [--parley build/parley] [--trials 5]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startFakeLlm, startParley, Client, makeSpeech, readWavPcm16, silence, concat, tmpDir } from '../tests/e2e/lib.mjs';

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.indexOf(n) >= 0 ? argv[argv.indexOf(n) + 1] : d);
if (arg('--parley')) process.env.PARLEY_BIN = arg('--parley');
const TRIALS = Number(arg('--trials', 5));
const SETTINGS = (arg('--min-speech', '40,60,100,160')).split(',').map(Number);
const sets = argv.flatMap((a, i) => (a === '--set' ? ['--set', argv[i + 1]] : []));

function soxMake(name, ...effects) {
  const f = path.join(tmpDir, name + '.wav');
  execFileSync('sox', ['-R', '-n', '-r', '16000', '-b', '16', '-c', '1', f, ...effects]);
  return readWavPcm16(f).pcm;
}
const cough = soxMake('cough', 'synth', '0.15', 'pinknoise', 'fade', 'q', '0.01', '0.15', '0.09', 'vol', '0.6');
const click = soxMake('click', 'synth', '0.006', 'whitenoise', 'fade', 'q', '0', '0.006', '0.005', 'vol', '0.7');
const clicks = concat(...Array.from({ length: 6 }, () => concat(click, silence(120))));
const echo = makeSpeech('It is sunny and warm today with a light breeze.', { padBefore: 0, padAfter: 0 }).map((x) =>
  Math.round(x * 0.056),
); // -25 dB
const yeah = makeSpeech('Yeah.', { padBefore: 0, padAfter: 0 });
const real = ['Wait, what time is it in London?', 'Stop, tell me a joke about computers.', 'Hold on, what is the capital of France?'].map(
  (t) => makeSpeech(t, { padBefore: 0.1, padAfter: 0.8 }),
);

const onset = (pcm) => {
  for (let f = 0; f * 320 < pcm.length; f++) {
    let e = 0;
    for (let i = f * 320; i < Math.min(pcm.length, (f + 1) * 320); i++) e += pcm[i] * pcm[i];
    if (Math.sqrt(e / 320) / 32768 > 0.01) return f;
  }
  return 0;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const llm = await startFakeLlm();
const longReply = 'The ocean covers most of the planet. It holds countless creatures. Whales sing across great distances. Coral reefs shelter fish.';
await llm.script([], { text: longReply, ttft_ms: 50, token_ms: 20 });

console.log(`barge-in trade-off, ${TRIALS} trials a stimulus (aggressiveness 3 while speaking)${sets.length ? ', ' + sets.filter((x) => x !== '--set').join(' ') : ''}`);
console.log('| barge_in.min_speech_ms | onset → interrupted p50 / p95 (ms) | cough | clicks | echo at -25 dB | "yeah" |');
console.log('|---|---|---|---|---|---|');
for (const ms of SETTINGS) {
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', `barge_in.min_speech_ms=${ms}`, ...sets] });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  // Plays pcm over a speaking reply; returns ms from onset to agent_interrupted, or null.
  async function trial(pcm) {
    const from = c.events.length;
    c.send({ type: 'text', text: 'Tell me about the ocean.' });
    await c.waitUntil(() => c.events.slice(from).find((e) => e.binary), 20000, 'reply audio');
    const tts = await c.waitFor('tts_start', () => true, 5000, from);
    const t0 = performance.timeOrigin + performance.now();
    await c.streamAudio(concat(pcm, silence(700)));
    const intr = c.events.slice(from).find((e) => e.msg && e.msg.type === 'agent_interrupted' && e.msg.turn === tts.turn);
    if (!intr) {
      c.send({ type: 'cancel' });
      await c.waitFor('agent_interrupted', (m) => m.turn === tts.turn, 5000, from);
    }
    // Let any utterance that the stimulus started finish before the next trial.
    const start = c.events.length;
    await c.waitUntil(() => c.events.slice(from).some((e) => e.msg && e.msg.type === 'state' && e.msg.state === 'listening'), 20000, 'listening');
    // A real utterance is answered: stop that reply too.
    const extra = c.events.slice(from).find((e) => e.msg && e.msg.type === 'tts_start' && e.msg.turn > tts.turn);
    if (extra) {
      c.send({ type: 'cancel' });
      await c.waitFor('agent_interrupted', (m) => m.turn === extra.msg.turn, 5000, start);
    }
    return intr ? intr.t - (t0 + onset(pcm) * 20) : null;
  }
  const lat = [];
  for (let i = 0; i < TRIALS * 2; i++) {
    const r = await trial(real[i % real.length]);
    if (r !== null) lat.push(r);
  }
  const rate = async (pcm) => {
    let n = 0;
    for (let i = 0; i < TRIALS; i++) if ((await trial(pcm)) !== null) n++;
    return `${n}/${TRIALS}`;
  };
  const row = [await rate(cough), await rate(clicks), await rate(echo), await rate(yeah)];
  console.log(
    `| ${ms} | ${lat.length ? `${pct(lat, 50).toFixed(0)} / ${pct(lat, 95).toFixed(0)}` : 'n/a'} (${lat.length}/${TRIALS * 2} interrupted) | ${row.join(' | ')} |`,
  );
  c.close();
  await p.stop();
}
llm.stop();
process.exit(0);
