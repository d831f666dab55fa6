// End to end over a real WebSocket: flite speech streamed in real time →
// partials and a final transcript with the key words → streamed assistant
// text → phrase audio of plausible length → done with latency marks; and
// the same through the OpenAI-compatible wire format, and a typed turn.
import fs from 'node:fs';
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
  replyAudio,
} from './lib.mjs';

const sentences = [
  { say: 'What is the weather like today?', keys: ['weather', 'today'] },
  { say: 'Tell me a joke about computers.', keys: ['joke', 'computers'] },
  { say: 'How many minutes are in one hour?', keys: ['minutes', 'hour'] },
];

const replies = [
  'It is sunny and warm today. You will not need an umbrella.',
  'Once upon a time, a small dog found a red ball in the park. He played all day.',
  'There are sixty minutes in one hour.',
];

test('spoken conversation over Ollama NDJSON: three turns', async () => {
  const llm = await startFakeLlm();
  // 60 ms a token: the words written while the reply is held (the LLM is
  // asked inside the silence window) come as one chunk; the rest must stream.
  await llm.script(replies.map((text) => ({ text, ttft_ms: 100, token_ms: 60 })));
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, STREAM_LOG_LATENCY: '1' } });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  assert(ready.session_id && ready.audio_out.sample_rate === 16000, 'ready carries session and audio_out');

  for (let i = 0; i < sentences.length; i++) {
    const turn = i + 1;
    const from = c.events.length;
    await c.streamAudio(makeSpeech(sentences[i].say));
    const final = await c.waitFor('transcript_final', (m) => m.turn === turn, 15000, from);
    for (const k of sentences[i].keys) assert(final.text.includes(k), `final "${final.text}" has "${k}"`);
    const partials = c.messages('transcript_partial').filter((m) => m.turn === turn);
    assert(partials.length >= 1, 'at least one partial');
    for (let k = 1; k < partials.length; k++) assert(partials[k].text !== partials[k - 1].text, 'partials change');

    const done = await c.waitFor('done', (m) => m.turn === turn, 20000, from);
    const chunks = c.messages('assistant_text').filter((m) => m.turn === turn && m.status === 'chunk');
    assert(chunks.length > 3, `assistant text streamed in ${chunks.length} chunks`);
    assert(chunks.map((x) => x.text).join('') === replies[i], 'the chunks add up to the reply');
    const end = c.messages('assistant_text').find((m) => m.turn === turn && m.status === 'end');
    assert(end.text === replies[i], `end text is the whole reply: ${end.text}`);

    const audio = replyAudio(c.events.slice(from), turn);
    const words = replies[i].split(/\s+/).length;
    const seconds = audio.samples / 16000;
    // flite speaks ~2.5-4 words a second.
    assert(seconds > words / 5 && seconds < words / 1.5, `${seconds.toFixed(2)} s of audio for ${words} words`);
    assert(audio.phrases.length >= 2 || words < 10, `${audio.phrases.length} phrases`);
    for (const ph of audio.phrases) assert(ph.rate === 16000 && ph.samples > 1600, `phrase "${ph.text}" has audio: ${JSON.stringify(audio.phrases)} ${c.messages().slice(-12).map((m) => m.type).join(" ")}`);

    const m = done.metrics;
    for (const k of ['endpoint_ms', 'final_transcript_ms', 'first_token_ms', 'first_phrase_ms', 'first_audio_ms', 'total_ms', 'first_partial_ms'])
      assert(typeof m[k] === 'number' && m[k] >= 0, `metric ${k} = ${m[k]}`);
    // The request may go out on the speculative final, before the endpoint
    // (llm.speculative_start); the audio never does.
    assert(m.first_token_ms >= m.llm_request_ms && m.first_audio_ms >= m.first_phrase_ms &&
      m.first_audio_ms >= m.endpoint_ms && m.final_transcript_ms >= m.endpoint_ms, `marks in order: ${JSON.stringify(m)}`);
    assert(m.asr_rtf > 0 && m.asr_rtf < 1, `asr_rtf ${m.asr_rtf}`);
    // Audio starts before the reply text is finished (streaming, not batch).
    const firstAudio = c.events.findIndex((e, idx) => idx >= from && e.binary);
    const endIdx = c.events.findIndex((e, idx) => idx >= from && e.msg && e.msg.type === 'assistant_text' && e.msg.status === 'end');
    if (words >= 10) assert(firstAudio < endIdx, 'first audio precedes the end of the text');
    await c.waitFor('state', (s) => s.state === 'listening', 20000, c.events.findIndex((e) => e.msg === done));
  }
  const states = c.messages('state').map((s) => s.state);
  assert(states.includes('thinking') && states.includes('speaking'), `states ${states.join(',')}`);

  // The LLM saw the system prompt and the history of earlier turns.
  const reqs = await llm.requests();
  assert(reqs.length === 3, `${reqs.length} LLM requests`);
  const last = reqs[2].body;
  assert(last.stream === true && last.model === 'mistral', 'streaming request for the default model');
  assert(last.messages[0].role === 'system', 'system prompt first');
  const roles = last.messages.map((x) => x.role).join(',');
  assert(roles === 'system,user,assistant,user,assistant,user', roles);
  assert(last.messages[2].content === replies[0], 'history keeps the spoken reply');
  assert(/"event":"latency"/.test(p.log()), 'latency log line on stderr');
  c.close();
  await p.stop();
  llm.stop();
});

test('OpenAI-compatible SSE with an API key, and a typed turn', async () => {
  const llm = await startFakeLlm();
  const reply = 'Hello from the compatible server. It streams events.';
  await llm.script([{ text: reply }, { text: 'Typed answer, streamed back.' }]);
  const p = await startParley({
    env: { PARLEY_LLM_PROVIDER: 'openai', PARLEY_LLM_URL: `${llm.base}/v1`, PARLEY_LLM_API_KEY: 'sk-test', PARLEY_LLM_MODEL: 'gpt-test' },
  });
  const c = new Client(p.url);
  await c.open();
  await c.start({ llm_model: 'override-model' });
  await c.streamAudio(makeSpeech('Say hello to the compatible server.'));
  const done = await c.waitFor('done', (m) => m.turn === 1, 20000);
  const end = c.messages('assistant_text').find((m) => m.status === 'end');
  assert(end.text === reply, `reply text: ${end.text}`);
  assert(replyAudio(c.events, 1).samples > 16000, 'audio for the reply');
  assert(done.metrics.input === 'speech', 'spoken turn');

  const from = c.events.length;
  c.send({ type: 'text', text: 'Type this instead.' });
  const done2 = await c.waitFor('done', (m) => m.turn === 2, 20000, from);
  assert(done2.metrics.input === 'text', 'typed turn');
  assert(replyAudio(c.events.slice(from), 2).samples > 8000, 'typed turn answered in speech');
  const reqs = await llm.requests();
  assert(reqs[0].path === '/v1/chat/completions' && reqs[0].authorization === 'Bearer sk-test', 'SSE path and key');
  assert(reqs[0].body.model === 'override-model', 'start.llm_model overrides the model');
  assert(reqs[1].body.messages.at(-1).content === 'Type this instead.', 'typed text sent');
  c.close();
  await p.stop();
  llm.stop();
});

test('start.tts picks the engine chain for the session', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start({ tts: 'espeak' });
  c.send({ type: 'text', text: 'hi' });
  await c.waitFor('done', () => true, 20000);
  assert(replyAudio(c.events, 1).samples > 8000, 'espeak spoke');
  const bad = new Client(p.url);
  await bad.open();
  bad.send({ type: 'start', tts: 'piper' });
  const err = await bad.waitFor('error');
  assert(err.code === 'PROTOCOL_VIOLATION' && /piper/.test(err.message), err.message);
  c.close();
  bad.close();
  await p.stop();
  llm.stop();
});

// CPU seconds (user + system) the process has used so far.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

test('waiting on a slow LLM mid-reply costs no CPU', async () => {
  const llm = await startFakeLlm();
  // The first sentence is spoken, then the LLM goes quiet for 1.5 s between tokens.
  await llm.script([{ text: 'Short first sentence. Then slow.', token_ms: 1500 }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'go' });
  await c.waitFor('tts_phrase_done', (m) => m.phrase === 0, 15000);
  const before = cpuSeconds(p.child.pid);
  const t0 = Date.now();
  await c.waitFor('done', () => true, 30000);
  const used = cpuSeconds(p.child.pid) - before;
  const wall = (Date.now() - t0) / 1000;
  assert(wall > 3, `the wait lasted ${wall} s`);
  assert(used < wall * 0.25, `${used.toFixed(2)} CPU s used in ${wall.toFixed(1)} s of waiting`);
  c.close();
  await p.stop();
  llm.stop();
});

await run();
