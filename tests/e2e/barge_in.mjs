// Barge-in end to end: user speech over the assistant stops everything in
// flight, no audio of the old turn follows agent_interrupted, history keeps
// only what was heard; cancel; min_words; half duplex; barge-in while thinking;
// with Silero's model there, a cough does not interrupt but a question does.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, run, assert, startFakeLlm, startParley, Client, makeSpeech, replyAudio, readWavPcm16, silence, concat, tmpDir } from './lib.mjs';

const sileroModel = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data/silero-v6.2.0-ggml.bin');

const longReply =
  'The ocean covers most of the planet. It holds countless creatures, large and small. ' +
  'Whales sing to each other across great distances. Coral reefs shelter thousands of fish. ' +
  'Deep below, strange animals glow in the dark. Scientists have explored only a small part of it.';

// Index of the first event after `from` that satisfies pred.
const indexOf = (c, pred, from = 0) => c.events.findIndex((e, i) => i >= from && pred(e));

// After agent_interrupted for `turn`, no binary frame may arrive before a
// tts_start of another turn.
function assertNoOldAudioAfter(c, turn) {
  const cut = indexOf(c, (e) => e.msg && e.msg.type === 'agent_interrupted' && e.msg.turn === turn);
  assert(cut >= 0, 'agent_interrupted seen');
  for (let i = cut + 1; i < c.events.length; i++) {
    const e = c.events[i];
    if (e.msg && e.msg.type === 'tts_start') {
      assert(e.msg.turn !== turn, 'no tts_start of the interrupted turn');
      return;
    }
    assert(!e.binary, `binary frame of turn ${turn} after agent_interrupted (event ${i})`);
    if (e.msg && e.msg.turn === turn)
      assert(!['tts_phrase_done', 'assistant_text'].includes(e.msg.type) || e.msg.status === 'end', `${e.msg.type} of turn ${turn} after the interruption`);
  }
}

// Starts parley with the scripted replies, opens a session, asks a typed
// question and resolves once the first reply audio has arrived.
async function replyPlaying(replies, env = {}) {
  const llm = await startFakeLlm();
  await llm.script(replies);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, ...env } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Tell me about the ocean.' });
  await c.waitUntil(() => c.events.find((e) => e.binary), 15000, 'first reply audio');
  return { llm, p, c };
}

test('speech over the assistant interrupts it; history keeps what was heard', async () => {
  const { llm, p, c } = await replyPlaying([{ text: longReply, token_ms: 60 }, { text: 'It is noon in London.' }]);
  // Let 4 s of the reply reach the client first: what it *received* is then
  // far more than what it reports having *played*, so the history can only
  // match the report if 'played' is honoured.
  const rate = () => c.messages('tts_start')[0].sample_rate;
  await c.waitUntil(() => replyAudio(c.events, 1).samples >= 4 * rate(), 20000, '4 s of reply audio');
  const received = replyAudio(c.events, 1).samples / rate();
  const speech = makeSpeech('Wait, what time is it in London?', { padBefore: 0.2 });
  const sentAt = Date.now();
  const streaming = c.streamAudio(speech);
  const intr = await c.waitFor('agent_interrupted', (m) => m.turn === 1, 10000);
  const latency = c.events.find((e) => e.msg === intr).t - sentAt;
  // Barge-in acts on speech start: it comes before the utterance ends.
  const endOfSpeech = indexOf(c, (e) => e.msg && (e.msg.type === 'speech_stopped' || e.msg.type === 'transcript_final'));
  assert(endOfSpeech < 0 || endOfSpeech > c.events.findIndex((e) => e.msg === intr), 'interrupted while the user still spoke');
  // The client reports how much it actually played: 0.8 s.
  c.send({ type: 'played', turn: 1, ms: 800 });
  await streaming;
  const done2 = await c.waitFor('done', (m) => m.turn === 2, 20000);
  assertNoOldAudioAfter(c, 1);
  const final = c.messages('transcript_final').find((m) => m.turn === 2);
  assert(/london/.test(final.text), `new utterance captured from its start: "${final.text}"`);
  assert(done2.metrics.first_audio_ms > 0, 'the new turn is answered in speech');
  // The state went back to listening at the interruption.
  const afterIntr = c.events.slice(c.events.findIndex((e) => e.msg === intr)).find((e) => e.msg && e.msg.type === 'state');
  assert(afterIntr && afterIntr.msg.state === 'listening', 'listening after the interruption');

  const reqs = await llm.requests();
  assert(reqs.length === 2, `${reqs.length} requests`);
  const msgs = reqs[1].body.messages;
  const heard = msgs.find((m) => m.role === 'assistant');
  assert(heard, 'the interrupted reply is in history');
  assert(longReply.startsWith(heard.content) && heard.content.length < longReply.length / 2, `heard: "${heard.content}"`);
  // 0.8 s of flite speech is 1-3 words; the 4+ s received would be 9 or more.
  const words = heard.content.split(/\s+/).length;
  assert(received >= 4 && words >= 1 && words <= 3, `${words} words kept of ${received.toFixed(1)} s received`);
  assert(msgs.at(-1).role === 'user' && /london/.test(msgs.at(-1).content), 'then the new user turn');
  console.log(`     barge-in: speech sent → agent_interrupted in ${latency} ms (includes the 200 ms lead-in)`);
  c.close();
  await p.stop();
  llm.stop();
});

test('cancel stops the reply at once', async () => {
  const { llm, p, c } = await replyPlaying([{ text: longReply, token_ms: 80 }]);
  c.send({ type: 'cancel' });
  await c.waitFor('agent_interrupted', (m) => m.turn === 1, 5000);
  await c.waitFor('state', (m) => m.state === 'listening', 5000, indexOf(c, (e) => e.msg && e.msg.type === 'agent_interrupted'));
  // Still usable afterwards.
  c.send({ type: 'text', text: 'Hello again.' });
  await c.waitFor('done', (m) => m.turn === 2, 15000);
  assertNoOldAudioAfter(c, 1);
  assert(!c.messages('done').some((m) => m.turn === 1), 'no done for the cancelled turn');
  c.close();
  await p.stop();
  llm.stop();
});

test('barge_in.min_words ignores a short "okay" but not a question', async () => {
  const { llm, p, c } = await replyPlaying([{ text: longReply, token_ms: 20 }, { text: longReply, token_ms: 20 }, { text: 'Noon.' }], { PARLEY_BARGE_IN_MIN_WORDS: '3' });
  await c.streamAudio(makeSpeech('Okay.'));
  await c.waitFor('info', (m) => /too short/.test(m.message), 10000).catch((e) => {
    throw new Error(`${e.message}; heard: ${JSON.stringify(c.messages('transcript_final').map((m) => m.text))}`);
  });
  assert(!c.messages('agent_interrupted').length, 'a one-word backchannel does not interrupt');
  assert(!c.messages('transcript_final').length, 'and is not answered');
  await c.streamAudio(makeSpeech('Wait, what time is it in London?'));
  await c.waitFor('agent_interrupted', (m) => m.turn === 1, 10000);
  await c.waitFor('done', (m) => m.turn === 3, 20000);
  assertNoOldAudioAfter(c, 1);
  c.close();
  await p.stop();
  llm.stop();
});

test('half duplex ignores the microphone while the assistant speaks', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'Short answer here. And a second sentence to speak.', token_ms: 20 }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_BARGE_IN_HALF_DUPLEX: 'true' } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Say something.' });
  await c.waitUntil(() => c.events.find((e) => e.binary), 15000, 'first reply audio');
  const from = c.events.length;
  await c.streamAudio(makeSpeech('Wait, what time is it in London?', { padAfter: 0.2 }));
  await c.waitFor('done', (m) => m.turn === 1, 15000);
  assert(!c.messages('agent_interrupted').length, 'not interrupted');
  const started = indexOf(c, (e) => e.msg && e.msg.type === 'speech_started', from);
  assert(started < 0, 'speech during playback was not heard');
  c.close();
  await p.stop();
  llm.stop();
});

test('barge-in while thinking aborts the LLM request', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'This reply comes too late.', ttft_ms: 4000 }, { text: 'Here you are.' }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const stats = async () => (await fetch(`${llm.base}/_control/stats`)).json();
  const before = (await stats()).disconnects;
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Think hard.' });
  await c.waitFor('state', (m) => m.state === 'thinking');
  await c.streamAudio(makeSpeech('Tell me a joke about computers.'));
  await c.waitFor('agent_interrupted', (m) => m.turn === 1, 5000);
  await c.waitFor('done', (m) => m.turn === 2, 15000);
  // The LLM server saw turn 1's request closed (not merely not answered yet).
  assert((await stats()).disconnects === before + 1, 'turn 1\'s request was aborted');
  assert(!c.messages('assistant_text').some((m) => m.turn === 1 && m.status === 'chunk'), 'no text of turn 1');
  c.close();
  await p.stop();
  llm.stop();
});

test('with Silero there, a cough over the reply does not interrupt it; a question does', async () => {
  if (!fs.existsSync(sileroModel)) return console.log('skip: no Silero model at ' + sileroModel);
  const { llm, p, c } = await replyPlaying([{ text: longReply, token_ms: 20 }, { text: 'Noon.' }], {
    PARLEY_VAD_ENGINE: 'webrtc',
    PARLEY_VAD_SILERO_MODEL: sileroModel,
  });
  // The barge-in bench's cough: 150 ms of pink noise, loud enough for WebRTC.
  const f = path.join(tmpDir, 'cough.wav');
  execFileSync('sox', ['-R', '-n', '-r', '16000', '-b', '16', '-c', '1', f, 'synth', '0.15', 'pinknoise', 'fade', 'q', '0.01', '0.15', '0.09', 'vol', '0.6']);
  await c.streamAudio(concat(silence(200), readWavPcm16(f).pcm, silence(700)));
  const info = await c.waitFor('info', (m) => /not speech/.test(m.message), 10000);
  assert(c.messages('speech_started').length >= 1, 'WebRTC took the cough for a start');
  assert(!c.messages('agent_interrupted').length, `the cough did not interrupt: ${info.message}`);
  assert(!c.messages('transcript_final').length, 'and it is not answered');
  await c.streamAudio(makeSpeech('Wait, what time is it in London?'));
  await c.waitFor('agent_interrupted', (m) => m.turn === 1, 10000);
  await c.waitFor('done', (m) => m.turn > 1, 20000);
  assertNoOldAudioAfter(c, 1);
  c.close();
  await p.stop();
  llm.stop();
});

await run();
