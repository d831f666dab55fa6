// Turn-taking over a real WebSocket: the LLM is asked on the speculative
// final, inside the silence window, and its answer shown at the endpoint; a
// speaker who pauses mid-sentence and goes on gets one answer, to the whole
// sentence, and the early request is cancelled with nothing sent; a client
// on a loudspeaker without its own canceller is not interrupted by its echo.
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
  silence,
  concat,
  trimQuiet,
  EchoingMic,
} from './lib.mjs';

const trimmed = (text) => trimQuiet(makeSpeech(text, { padBefore: 0, padAfter: 0 }));

async function counters(p) {
  const text = await (await fetch(`${p.http}/metrics`)).text();
  const get = (o) => Number(new RegExp(`parley_speculative_starts_total\\{outcome="${o}"\\} (\\d+)`).exec(text)?.[1]);
  return { shown: get('shown'), wasted: get('wasted') };
}

const lastUser = (req) => {
  const body = typeof req.body === 'string' ? JSON.parse(req.body) : req.body;
  const msgs = body.messages || [];
  return [...msgs].reverse().find((m) => m.role === 'user')?.content || '';
};

test('speculative start: asked inside the silence window, shown at the endpoint', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: 'There are sixty minutes in one hour.', ttft_ms: 100, token_ms: 30 });
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  await c.streamAudio(concat(silence(300), trimmed('How many minutes are in one hour?'), silence(1500)));
  const done = await c.waitFor('done', () => true, 20000);
  const m = done.metrics;
  assert(m.llm_request_ms < m.endpoint_ms, `the request went out inside the window: ${JSON.stringify(m)}`);
  assert(m.first_audio_ms >= m.endpoint_ms, 'no audio before the endpoint');
  // What the client saw came in order: the final, then the answer.
  const types = c.messages().map((x) => x.type);
  assert(types.indexOf('transcript_final') < types.indexOf('assistant_text'), `order: ${types.join(' ')}`);
  assert(types.indexOf('speech_stopped') < types.indexOf('assistant_text'), 'nothing of the answer before the endpoint');
  const n = await counters(p);
  assert(n.shown === 1 && n.wasted === 0, `counters: ${JSON.stringify(n)}`);
  c.close();
  await p.stop();

  // The same question with it off: the request waits for the endpoint.
  const q = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', 'llm.speculative_start=false'] });
  const d = new Client(q.url);
  await d.open();
  await d.start();
  await d.streamAudio(concat(silence(300), trimmed('How many minutes are in one hour?'), silence(1500)));
  const off = (await d.waitFor('done', () => true, 20000)).metrics;
  assert(off.llm_request_ms >= off.endpoint_ms, `off: ${JSON.stringify(off)}`);
  assert(m.first_audio_ms < off.first_audio_ms, `sooner with it: ${m.first_audio_ms} vs ${off.first_audio_ms} ms`);
  d.close();
  await q.stop();
  llm.stop();
});

test('a 350 ms pause inside a question: one answer, to the whole sentence, the early request cancelled unseen', async () => {
  const llm = await startFakeLlm();
  // Slow enough that the early request is still streaming when speech resumes.
  await llm.script([], { text: 'It is early afternoon in Paris, a lovely time for a walk.', ttft_ms: 150, token_ms: 60 });
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  const first = trimmed('What time is it'), second = trimmed('in Paris right now?');
  const speechEndMs = 300 + ((first.length + second.length) / 16000) * 1000 + 350;
  const t0 = Date.now();
  await c.streamAudio(concat(silence(300), first, silence(350), second, silence(1500)));
  await c.waitFor('done', () => true, 20000);
  const finals = c.messages('transcript_final');
  assert(finals.length === 1 && /time/.test(finals[0].text) && /paris/i.test(finals[0].text),
    `one final, the whole sentence: ${JSON.stringify(finals)}`);
  assert(c.messages('assistant_text').filter((x) => x.status === 'start').length === 1, 'one answer');
  const firstAnswer = c.events.find((e) => e.binary || (e.msg && e.msg.type === 'assistant_text'));
  assert(firstAnswer.t - t0 >= speechEndMs, `nothing of an answer before the user finished (${firstAnswer.t - t0} ms, speech ended at ${speechEndMs.toFixed(0)} ms)`);
  // The early request exists only if the speculative final was decoded
  // within the pause (150 ms of quiet + the decode); on a loaded machine it
  // may come too late and be cancelled unasked. Whatever happened, the
  // server's counters, the LLM server's log and the client agree.
  const reqs = (await llm.requests()).filter((r) => /chat/.test(r.path));
  const n = await counters(p);
  assert(reqs.length === n.wasted + 1 && n.wasted <= 1, `requests ${reqs.length}, counters ${JSON.stringify(n)}`);
  assert(/paris/i.test(lastUser(reqs[reqs.length - 1])), `the answer was to the whole sentence: "${lastUser(reqs[reqs.length - 1])}"`);
  if (n.wasted === 1) {
    assert(!/paris/i.test(lastUser(reqs[0])), `the early one had half the sentence: "${lastUser(reqs[0])}"`);
    const stats = await (await fetch(`${llm.base}/_control/stats`)).json();
    assert(stats.disconnects >= 1, `the early request was aborted: ${JSON.stringify(stats)}`);
  } else {
    console.log('note: the speculative final came after speech resumed; no early request this run');
  }
  c.close();
  await p.stop();
  llm.stop();
});

test('a loudspeaker client without a canceller: its echo does not interrupt, a question over it does', async () => {
  const llm = await startFakeLlm();
  const long =
    'The ocean covers most of the planet, and it holds countless creatures. Whales sing to each other across great distances. ' +
    'Coral reefs shelter fish of every colour. Turtles swim between them in the warm water.';
  await llm.script([], { text: long, ttft_ms: 50, token_ms: 10 });
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  // Everything the speaker plays comes back into the microphone at -20 dB, 150 ms late.
  const mic = new EchoingMic(c, { delayMs: 150, gainDb: -20 }).start();
  c.send({ type: 'text', text: 'Tell me about the ocean.' });
  const first = await c.waitFor('tts_start', () => true, 20000);
  await c.waitFor('done', (m) => m.turn === first.turn, 30000);
  await c.waitFor('state', (m) => m.state === 'listening', 30000, c.events.findIndex((e) => e.msg && e.msg.type === 'done'));
  assert(!c.messages('agent_interrupted').length, `no interruption: ${c.messages().map((m) => m.type).join(' ')}`);
  assert(!c.messages('speech_started').length, 'the echo was not taken for speech');

  // Again, and 2 s in the user asks something over it, the echo still leaking.
  await llm.script([], { text: long, ttft_ms: 50, token_ms: 10 });
  const from = c.events.length;
  c.send({ type: 'text', text: 'Tell me more about the ocean.' });
  const second = await c.waitFor('tts_start', (m) => m.turn > first.turn, 20000, from);
  const audio = () => c.events.slice(from).filter((e) => e.binary).length;
  await c.waitUntil(() => audio() >= 30, 20000, '3 s of reply audio'); // 100 ms frames, 1 s ahead: 2 s in
  const onset = await mic.say(trimmed('Wait, what time is it in Paris?'));
  const intr = await c.waitFor('agent_interrupted', (m) => m.turn === second.turn, 5000, from);
  const at = c.events.find((e) => e.msg === intr).t;
  console.log(`a question over the echo interrupted the reply ${Math.round(at - onset)} ms after its onset`);
  const fin = await c.waitFor('transcript_final', (m) => m.turn > second.turn, 10000, from);
  console.log(`heard: "${fin.text}"`);
  assert(/time/i.test(fin.text), `the question was heard: "${fin.text}"`);
  await mic.stop();
  c.close();
  await p.stop();
  llm.stop();
});

await run();
