// Opus on protocol v1, end to end: speech encoded with libopus (npm
// opusscript) at 16 and 48 kHz, 20 and 60 ms packets, one packet per binary
// frame; the reply comes back as 20 ms Opus packets that decode to speech of
// the right length. Bad packets get a recoverable error and the session goes
// on; bytes per second both ways are compared with PCM.
import OpusScript from 'opusscript';
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
} from './lib.mjs';

let llm, parley;

async function openSession(extra) {
  const c = new Client(parley.url);
  await c.open();
  const ready = await c.start(extra);
  return { c, ready };
}

// 16 kHz speech at another rate, by linear interpolation (good enough for a
// recogniser that hears only below 8 kHz).
function upsample(pcm, factor) {
  const out = new Int16Array(pcm.length * factor);
  for (let i = 0; i < out.length; i++) {
    const x = i / factor, k = Math.floor(x), f = x - k;
    out[i] = Math.round(pcm[k] * (1 - f) + (k + 1 < pcm.length ? pcm[k + 1] : 0) * f);
  }
  return out;
}

// The clip as Opus packets of frameMs, encoded at rate.
function encode(pcm16k, rate, frameMs) {
  const pcm = rate === 16000 ? pcm16k : upsample(pcm16k, rate / 16000);
  const enc = new OpusScript(rate, 1, OpusScript.Application.VOIP);
  enc.setBitrate(24000);
  const frame = (rate * frameMs) / 1000;
  const packets = [];
  for (let i = 0; i + frame <= pcm.length; i += frame) {
    const chunk = pcm.subarray(i, i + frame);
    packets.push(Buffer.from(enc.encode(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), frame)));
  }
  enc.delete();
  return packets;
}

// Sends packets at real-time pace (frameMs each), drift-compensated.
async function streamPackets(c, packets, frameMs) {
  const t0 = performance.now();
  for (let k = 0; k < packets.length; k++) {
    c.sendBinary(packets[k]);
    const wait = t0 + (k + 1) * frameMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

// The turn's reply packets (binary frames between tts_start and
// tts_phrase_done), decoded.
function decodeReply(c, turn, from, rate) {
  const dec = new OpusScript(rate, 1);
  let inTurn = false;
  const packets = [];
  for (const e of c.events.slice(from)) {
    if (e.msg && e.msg.type === 'tts_start') inTurn = e.msg.turn === turn;
    else if (e.msg && e.msg.type === 'tts_phrase_done') inTurn = false;
    else if (e.binary && inTurn) packets.push(e.binary);
  }
  const sizes = [];
  let energy = 0, samples = 0, bytes = 0;
  for (const p of packets) {
    const b = dec.decode(p);
    const pcm = new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    sizes.push(pcm.length);
    for (const v of pcm) energy += v * v;
    samples += pcm.length;
    bytes += p.length;
  }
  dec.delete();
  return { packets: packets.length, sizes, samples, bytes, rms: Math.sqrt(energy / Math.max(1, samples)) / 32768 };
}

const question = { say: 'What is the weather like today?', keys: ['weather', 'today'] };
const answer = 'It is sunny and warm today. You will not need an umbrella.';

for (const [rate, frameMs] of [
  [16000, 20],
  [48000, 60],
]) {
  test(`a spoken question as ${frameMs} ms Opus packets at ${rate} Hz, answered in 20 ms Opus packets`, async () => {
    await llm.script([{ text: answer, ttft_ms: 100, token_ms: 30 }]);
    const { c, ready } = await openSession({ format: 'opus', output_format: 'opus', sample_rate: rate });
    assert(ready.audio_out.format === 'opus' && ready.audio_out.frame_ms === 20, JSON.stringify(ready.audio_out));
    const outRate = ready.audio_out.sample_rate;
    assert([8000, 12000, 16000, 24000, 48000].includes(outRate), `an Opus rate: ${outRate}`);
    const packets = encode(makeSpeech(question.say), rate, frameMs);
    await streamPackets(c, packets, frameMs);
    const final = await c.waitFor('transcript_final', (m) => m.turn === 1, 15000);
    for (const k of question.keys) assert(final.text.includes(k), `final "${final.text}" has "${k}"`);
    await c.waitFor('done', (m) => m.turn === 1, 20000);
    const starts = c.messages('tts_start');
    assert(starts.length >= 1 && starts.every((m) => m.sample_rate === outRate), 'tts_start names the Opus rate');
    const reply = decodeReply(c, 1, 0, outRate);
    const frame = outRate / 50;
    assert(reply.sizes.every((n) => n === frame), `every packet is 20 ms: ${[...new Set(reply.sizes)]}`);
    const seconds = reply.samples / outRate;
    const words = answer.split(/\s+/).length;
    assert(seconds > words / 5 && seconds < words / 1.5, `${seconds.toFixed(2)} s of reply for ${words} words`);
    assert(reply.rms > 0.02, `the reply decodes to speech (rms ${reply.rms.toFixed(3)})`);
    assert(c.messages('error').length === 0, 'no errors');
    c.close();
  });
}

test('a reply synthesised at 22050 Hz goes out as 48 kHz Opus', async () => {
  const llm2 = await startFakeLlm();
  await llm2.script([{ text: answer, ttft_ms: 100, token_ms: 30 }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm2.base, PARLEY_TTS_SAMPLE_RATE: '22050' } });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start({ output_format: 'opus' });
  assert(ready.audio_out.sample_rate === 48000, `48 kHz: ${ready.audio_out.sample_rate}`);
  c.send({ type: 'text', text: 'What is the weather like today?' });
  await c.waitFor('done', () => true, 20000);
  const reply = decodeReply(c, 1, 0, 48000);
  assert(reply.sizes.every((n) => n === 960), `every packet is 20 ms at 48 kHz: ${[...new Set(reply.sizes)]}`);
  const seconds = reply.samples / 48000;
  assert(seconds > 2 && seconds < 8 && reply.rms > 0.02, `${seconds.toFixed(2)} s, rms ${reply.rms.toFixed(3)}`);
  c.close();
  await p.stop();
  llm2.stop();
});

test('bytes per second both ways: Opus against pcm_s16le', async () => {
  const speech = makeSpeech(question.say);
  const result = {};
  for (const mode of ['pcm', 'opus']) {
    await llm.script([{ text: answer, ttft_ms: 100, token_ms: 30 }]);
    const opus = mode === 'opus';
    const { c } = await openSession(opus ? { format: 'opus', output_format: 'opus' } : {});
    const seconds = speech.length / 16000;
    let up = 0;
    if (opus) {
      const packets = encode(speech, 16000, 20);
      up = packets.reduce((a, p) => a + p.length, 0);
      await streamPackets(c, packets, 20);
    } else {
      up = speech.byteLength;
      await c.streamAudio(speech);
    }
    await c.waitFor('done', (m) => m.turn === 1, 20000);
    let down = 0, played = 0;
    const rate = c.messages('tts_start')[0].sample_rate;
    if (opus) {
      const r = decodeReply(c, 1, 0, rate);
      down = r.bytes;
      played = r.samples / rate;
    } else {
      for (const e of c.events) if (e.binary) down += e.binary.length;
      played = down / 2 / rate;
    }
    result[mode] = { up: up / seconds, down: down / played };
    c.close();
  }
  console.log(
    `  bytes/s up: pcm ${Math.round(result.pcm.up)}, opus ${Math.round(result.opus.up)}; ` +
      `down: pcm ${Math.round(result.pcm.down)}, opus ${Math.round(result.opus.down)}`,
  );
  assert(result.opus.up < result.pcm.up / 5, 'Opus up is under a fifth of PCM');
  assert(result.opus.down < result.pcm.down / 5, 'Opus down is under a fifth of PCM');
});

test('bad Opus input: garbage, an empty frame, a packet over 120 ms; bad format names', async () => {
  await llm.script([{ text: answer, ttft_ms: 100, token_ms: 30 }]);
  const { c } = await openSession({ format: 'opus' });
  c.sendBinary(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x02])); // code 3, 63 frames: no such packet
  let e = await c.waitFor('error');
  assert(e.code === 'PROTOCOL_VIOLATION' && e.recoverable === true && /Opus/.test(e.message), e.message);
  c.sendBinary(Buffer.alloc(0));
  await c.waitUntil(() => c.messages('error').length === 2, 5000, 'second error');
  assert(/Opus packet/.test(c.messages('error')[1].message), c.messages('error')[1].message);
  // A code-3 packet of 3 frames of 60 ms (TOC config 3: SILK NB 60 ms): 180 ms.
  c.sendBinary(Buffer.from([(3 << 3) | 3, 3, 0, 0, 0]));
  await c.waitUntil(() => c.messages('error').length === 3, 5000, 'third error');
  assert(/120 ms|Opus/.test(c.messages('error')[2].message), c.messages('error')[2].message);
  // A frame over 64 KiB is dropped with an error, as any frame is.
  c.sendBinary(Buffer.alloc(70 * 1024, 0xfc));
  await c.waitUntil(() => c.messages('error').length === 4, 5000, 'oversized error');
  assert(/limited to/.test(c.messages('error')[3].message), c.messages('error')[3].message);
  // The session goes on: a real question is still heard and answered.
  await streamPackets(c, encode(makeSpeech(question.say), 16000, 20), 20);
  const final = await c.waitFor('transcript_final', () => true, 15000);
  assert(final.text.includes('weather'), final.text);
  await c.waitFor('done', () => true, 20000);
  // PCM went out (no output_format): frames of whole samples.
  assert(c.events.some((x) => x.binary && x.binary.length % 2 === 0 && x.binary.length > 1000), 'PCM reply frames');
  c.close();

  for (const [extra, why] of [
    [{ format: 'mp3' }, /'format' must be/],
    [{ output_format: 'opus_48k' }, /'output_format' must be/],
    [{ output_format: 7 }, /'output_format' must be/],
  ]) {
    const k = new Client(parley.url);
    await k.open();
    k.send({ type: 'start', ...extra });
    const err = await k.waitFor('error');
    assert(err.code === 'PROTOCOL_VIOLATION' && why.test(err.message), err.message);
    k.close();
  }
});

test('a client that drops mid-packet-stream leaves the server serving', async () => {
  const { c } = await openSession({ format: 'opus', output_format: 'opus' });
  const packets = encode(makeSpeech(question.say), 16000, 20);
  for (const p of packets.slice(0, 40)) c.sendBinary(p);
  c.ws.terminate();
  await llm.script([{ text: answer, ttft_ms: 100, token_ms: 30 }]);
  const { c: d } = await openSession({ format: 'opus', output_format: 'opus' });
  await streamPackets(d, packets, 20);
  await d.waitFor('done', () => true, 20000);
  d.close();
});

llm = await startFakeLlm();
parley = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
await run();
