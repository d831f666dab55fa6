// Remote OpenAI-compatible speech engines against the test server's
// /v1/audio/speech (raw PCM, streamed in 20 ms chunks) and
// /v1/audio/transcriptions (multipart): audio forwarded before synthesis
// ends, a slow first byte, a 500 and a dropped connection each falling back
// to flite, and remote recognition with its failure reported as ASR_FAIL.
import { test, run, assert, startFakeLlm, startParley, Client, makeSpeech, replyAudio } from './lib.mjs';

async function speechControl(llm, body) {
  await fetch(`${llm.base}/_control/speech`, { method: 'POST', body: JSON.stringify(body) });
}

const remoteTts = (llm, extra = {}) => ({
  PARLEY_LLM_URL: llm.base,
  PARLEY_TTS: 'openai,flite',
  PARLEY_TTS_OPENAI_URL: `${llm.base}/v1`,
  PARLEY_TTS_OPENAI_VOICE: 'af_test',
  ...extra,
});

test('remote TTS: audio is forwarded while the server is still synthesising', async () => {
  const llm = await startFakeLlm();
  const reply = 'The remote voice is speaking this sentence slowly.';
  await llm.script([{ text: reply }]);
  await speechControl(llm, { tts: { mode: 'normal' } });
  const p = await startParley({ env: remoteTts(llm) });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  assert(ready.tts_engines.join(',') === 'openai,flite', ready.tts_engines.join(','));
  c.send({ type: 'text', text: 'Say something' });
  const done = await c.waitFor('done', () => true, 20000);
  assert(!c.messages('error').length, `no errors: ${JSON.stringify(c.messages('error'))}`);
  const reqs = (await llm.requests()).filter((r) => r.path === '/v1/audio/speech');
  assert(reqs.length >= 1 && reqs[0].body.voice === 'af_test' && reqs[0].body.response_format === 'pcm' && reqs[0].body.model === 'tts-1', JSON.stringify(reqs[0]));
  assert(reqs.map((r) => r.body.input).join(' ') === reply, `phrases sent: ${reqs.map((r) => r.body.input)}`);
  // The test server sends 60 ms of tone per character at real-time pace.
  const audio = replyAudio(c.events, done.turn);
  const expected = reqs.reduce((a, r) => a + r.body.input.length * 0.06 * 16000, 0);
  assert(Math.abs(audio.samples - expected) < expected * 0.05, `${audio.samples} samples, expected ~${expected}`);
  const firstAudio = c.events.find((e) => e.binary).t;
  assert(firstAudio < reqs[0].finished_at - 300, `first audio ${reqs[0].finished_at - firstAudio} ms before the server finished`);
  c.close();
  await p.stop();
  llm.stop();
});

test('remote TTS: two sessions are synthesised at the same time (an instance per worker)', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: 'Both of us are speaking at once.', ttft_ms: 20, token_ms: 5 });
  await speechControl(llm, { tts: { mode: 'normal' } });
  const p = await startParley({ env: remoteTts(llm) });
  const clients = [new Client(p.url), new Client(p.url)];
  for (const c of clients) {
    await c.open();
    await c.start();
  }
  for (const c of clients) c.send({ type: 'text', text: 'Talk' });
  for (const c of clients) await c.waitFor('done', () => true, 20000);
  const reqs = (await llm.requests()).filter((r) => r.path === '/v1/audio/speech');
  assert(reqs.length === 2, `${reqs.length} speech requests`);
  // Each phrase takes ~2 s to stream: one instance would start the second
  // only after the first finished.
  const [a, b] = reqs.sort((x, y) => x.at - y.at);
  assert(b.at < a.finished_at - 500, `overlap: second started ${b.at - a.at} ms after the first, which took ${a.finished_at - a.at} ms`);
  for (const c of clients) c.close();
  await p.stop();
  llm.stop();
});

for (const [name, tts, expect] of [
  ['a slow first byte', { mode: 'slow', ttfb_ms: 3000 }, 'timed out'],
  ['a 500', { mode: 'error', status: 500 }, 'HTTP 500'],
  ['a dropped connection', { mode: 'drop' }, 'openai'],
]) {
  test(`remote TTS: ${name} falls back to flite`, async () => {
    const llm = await startFakeLlm();
    await llm.script([{ text: 'Falling back works.' }]);
    await speechControl(llm, { tts });
    const p = await startParley({ env: remoteTts(llm, { STREAM_TTS_TIMEOUT_S: '1' }) });
    const c = new Client(p.url);
    await c.open();
    await c.start();
    c.send({ type: 'text', text: 'Hello' });
    const done = await c.waitFor('done', () => true, 20000);
    const err = c.messages('error').find((m) => m.code === 'TTS_FAIL');
    assert(err && err.message.includes(expect) && err.message.includes('spoken by flite'), `error: ${JSON.stringify(c.messages('error'))}`);
    assert(replyAudio(c.events, done.turn).samples > 8000, 'flite spoke the phrase');
    c.close();
    await p.stop();
    llm.stop();
  });
}

test('remote ASR: utterances posted as WAV, failures are ASR_FAIL', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'It is sunny.' }, { text: 'Still sunny.' }]);
  await speechControl(llm, { asr: { text: ' What is the weather like today? ' } });
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base, PARLEY_ASR: 'openai', PARLEY_ASR_OPENAI_URL: `${llm.base}/v1`, PARLEY_ASR_OPENAI_API_KEY: 'sk-test' },
  });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  const speech = makeSpeech('What is the weather like today?');
  await c.streamAudio(speech);
  const final = await c.waitFor('transcript_final', () => true, 15000);
  assert(final.text === 'What is the weather like today?', `final "${final.text}"`);
  await c.waitFor('done', () => true, 20000);
  const asr = (await llm.requests()).filter((r) => r.path === '/v1/audio/transcriptions');
  assert(asr.length >= 1, 'one transcription request');
  const last = asr[asr.length - 1];
  assert(last.fields.model === 'whisper-1' && last.fields.language === 'en' && last.fields.response_format === 'json', JSON.stringify(last.fields));
  assert(last.authorization === 'Bearer sk-test' && last.file_type === 'audio/wav', 'a WAV with the key');
  const seconds = (last.file_bytes - 44) / 32000;
  assert(seconds > 1.0 && seconds < speech.length / 16000 + 0.5, `${seconds.toFixed(2)} s of audio posted`);

  await speechControl(llm, { asr: { status: 500 } });
  const from = c.events.length;
  await c.streamAudio(makeSpeech('Will it rain tomorrow?'));
  const err = await c.waitFor('error', (m) => m.code === 'ASR_FAIL', 15000, from);
  assert(err.message.includes('HTTP 500'), err.message);
  c.close();
  await p.stop();
  llm.stop();
});

run();
