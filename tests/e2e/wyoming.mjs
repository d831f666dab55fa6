// The Wyoming server against a client written from the spec
// (../shared/specs/protocols.md): describe, speech to text (one-shot and the
// streaming frame), text to speech (one-shot and streamed, with the
// back-compat synthesize ignored), handle (the LLM with tools), and bad
// framing: an error event and a closed connection, never a hang.
import net from 'node:net';
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  freePort,
  makeSpeech,
  Waitable,
} from './lib.mjs';

// ---- a Wyoming client ----

class Wyoming extends Waitable {
  constructor(port) {
    super();
    this.port = port;
    this.events = [];
    this.buf = Buffer.alloc(0);
    this.closed = false;
  }
  open() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, '127.0.0.1', resolve);
      this.sock.on('error', (e) => (this.closed ? null : reject(e)));
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        this._parse();
      });
      this.sock.on('close', () => {
        this.closed = true;
        this._check();
      });
    });
  }
  // Header line, data block merged over header data, payload.
  _parse() {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = JSON.parse(this.buf.subarray(0, nl).toString());
      const dlen = header.data_length || 0, plen = header.payload_length || 0;
      if (this.buf.length < nl + 1 + dlen + plen) return;
      let data = { ...(header.data || {}) };
      if (dlen) Object.assign(data, JSON.parse(this.buf.subarray(nl + 1, nl + 1 + dlen).toString()));
      const payload = plen ? Buffer.from(this.buf.subarray(nl + 1 + dlen, nl + 1 + dlen + plen)) : null;
      this.buf = this.buf.subarray(nl + 1 + dlen + plen);
      this.events.push({ type: header.type, data, payload, version: header.version });
      this._check();
    }
  }
  describe() {
    return this.events.map((e) => e.type).join(' ');
  }
  waitFor(type, from = 0, timeoutMs = 15000) {
    return this.waitUntil(() => this.events.slice(from).find((e) => e.type === type), timeoutMs, type);
  }
  waitClosed(timeoutMs = 5000) {
    return this.waitUntil(() => this.closed, timeoutMs, 'close');
  }
  // As the reference writer does: data as a block, then the payload.
  send(type, data = {}, payload = null) {
    const block = Object.keys(data).length ? Buffer.from(JSON.stringify(data)) : null;
    const header = { type, version: '1.9.0' };
    if (block) header.data_length = block.length;
    if (payload) header.payload_length = payload.length;
    this.sock.write(Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), block || Buffer.alloc(0), payload || Buffer.alloc(0)]));
  }
  raw(bytes) {
    this.sock.write(bytes);
  }
  close() {
    this.sock.destroy();
  }
}

// Speech as HA sends it: audio-start, 1024-sample chunks, audio-stop.
function sendClip(w, pcm, rate = 16000, channels = 1) {
  const fmt = { rate, width: 2, channels };
  w.send('transcribe', { language: 'en' });
  w.send('audio-start', fmt);
  const step = 1024 * channels;
  for (let i = 0; i < pcm.length; i += step) {
    const c = pcm.subarray(i, Math.min(i + step, pcm.length));
    w.send('audio-chunk', fmt, Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  }
  w.send('audio-stop', {});
}

// The audio of the events from index `from`: samples, rate, rms, and the
// audio-start/audio-stop counts.
function audioOf(events) {
  let rate = 0, starts = 0, stops = 0;
  const parts = [];
  for (const e of events) {
    if (e.type === 'audio-start') (starts++, (rate = e.data.rate));
    if (e.type === 'audio-stop') stops++;
    if (e.type === 'audio-chunk') parts.push(e.payload);
  }
  const b = Buffer.concat(parts);
  const pcm = new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  let e2 = 0;
  for (const v of pcm) e2 += v * v;
  return { pcm, rate, starts, stops, seconds: pcm.length / (rate || 1), rms: Math.sqrt(e2 / Math.max(1, pcm.length)) / 32768 };
}

let llm, parley, port;
const answer = 'It is sunny and warm today. You will not need an umbrella.';

test('describe: info lists the asr, tts (with voices) and handle programs', async () => {
  const w = new Wyoming(port);
  await w.open();
  w.send('describe');
  const info = (await w.waitFor('info')).data;
  assert(info.asr.length === 1 && info.asr[0].models[0].languages.includes('en'), JSON.stringify(info.asr));
  assert(info.asr[0].supports_transcript_streaming === true, 'asr streams transcripts');
  const voices = info.tts[0].voices.map((v) => v.name);
  assert(voices.includes('flite') && voices.includes('espeak'), `voices: ${voices}`);
  assert(info.tts[0].voices.every((v) => v.installed && v.attribution.name === 'parley'), 'voices are artifacts');
  assert(info.handle.length === 1 && info.handle[0].models.length === 1, JSON.stringify(info.handle));
  for (const k of ['intent', 'wake', 'mic', 'snd']) assert(Array.isArray(info[k]) && !info[k].length, k);
  assert(w.events[0].version === '1.9.0', 'the header carries a version');
  w.send('ping', { text: 'hi' });
  assert((await w.waitFor('pong')).data.text === 'hi', 'pong echoes');
  w.close();
});

test('speech to text: 16 kHz mono, and 48 kHz stereo, in the streaming frame', async () => {
  const speech = makeSpeech('What is the weather like today?');
  const stereo48 = new Int16Array(speech.length * 3 * 2);
  for (let i = 0; i < speech.length * 3; i++) {
    const x = i / 3, k = Math.floor(x), f = x - k;
    const v = Math.round(speech[k] * (1 - f) + (speech[k + 1] || 0) * f);
    stereo48[2 * i] = v;
    stereo48[2 * i + 1] = v;
  }
  for (const [pcm, rate, channels] of [[speech, 16000, 1], [stereo48, 48000, 2]]) {
    const w = new Wyoming(port);
    await w.open();
    sendClip(w, pcm, rate, channels);
    await w.waitFor('transcript-stop', 0, 20000);
    const types = w.events.map((e) => e.type);
    assert(types[0] === 'transcript-start' && types.at(-2) === 'transcript' && types.at(-1) === 'transcript-stop',
      `the streaming frame: ${types}`);
    const t = w.events.find((e) => e.type === 'transcript').data.text;
    assert(/weather/.test(t) && /today/.test(t), `${rate} Hz x${channels}: "${t}"`);
    const chunks = w.events.filter((e) => e.type === 'transcript-chunk').map((e) => e.data.text).join('');
    assert(chunks === t, `the chunks add up to the transcript: "${chunks}"`);
    w.close();
  }
});

test('text to speech: synthesize gives audio-start, chunks, audio-stop; parley hears it back', async () => {
  const w = new Wyoming(port);
  await w.open();
  w.send('synthesize', { text: 'Tell me a joke about computers.', voice: { name: 'flite' } });
  await w.waitFor('audio-stop', 0, 20000);
  const a = audioOf(w.events);
  assert(a.starts === 1 && a.stops === 1 && w.events[0].type === 'audio-start', 'one audio frame');
  assert(w.events[0].data.width === 2 && w.events[0].data.channels === 1 && a.rate === 16000, JSON.stringify(w.events[0].data));
  assert(a.seconds > 1 && a.seconds < 5 && a.rms > 0.02, `${a.seconds.toFixed(2)} s, rms ${a.rms.toFixed(3)}`);
  // Round trip: the same server transcribes what it said.
  const from = w.events.length;
  sendClip(w, a.pcm, a.rate);
  await w.waitFor('transcript-stop', from, 20000);
  const t = w.events.slice(from).find((e) => e.type === 'transcript').data.text;
  assert(/joke/.test(t) && /computers/.test(t), `heard back: "${t}"`);
  w.close();
});

test('streamed synthesis: audio per phrase, the back-compat synthesize ignored, then synthesize-stopped', async () => {
  const w = new Wyoming(port);
  await w.open();
  w.send('synthesize-start', { voice: { name: 'flite' } });
  w.send('synthesize-chunk', { text: 'It is sunny ' });
  w.send('synthesize-chunk', { text: 'and warm today. You will ' });
  w.send('synthesize-chunk', { text: 'not need an umbrella.' });
  w.send('synthesize', { text: answer }); // back-compat copy: must not be spoken again
  w.send('synthesize-stop');
  await w.waitFor('synthesize-stopped', 0, 20000);
  const a = audioOf(w.events);
  assert(w.events.at(-1).type === 'synthesize-stopped' && w.events.at(-2).type === 'audio-stop', 'ends with audio-stop, synthesize-stopped');
  assert(a.starts === a.stops && a.starts >= 2, `audio per phrase: ${a.starts} starts, ${a.stops} stops`);
  const words = answer.split(/\s+/).length;
  assert(a.seconds > words / 5 && a.seconds < words / 1.5, `${a.seconds.toFixed(2)} s for ${words} words: spoken once`);
  // An empty stream still ends properly.
  const from = w.events.length;
  w.send('synthesize-start');
  w.send('synthesize-stop');
  await w.waitFor('synthesize-stopped', from);
  const types = w.events.slice(from).map((e) => e.type);
  assert(types.join() === 'audio-start,audio-stop,synthesize-stopped', `empty stream: ${types}`);
  w.close();
});

test('handle: a transcript gets the LLM answer, tools included, with its context', async () => {
  await llm.reset();
  await llm.script([
    { text: '', tool_calls: [{ name: 'memory_save', arguments: { text: 'The user likes sunny weather.' } }] },
    { text: answer },
  ]);
  const w = new Wyoming(port);
  await w.open();
  w.send('transcript', { text: 'Remember that I like sunny weather.', context: { conversation: 'ha-1' } });
  const h = await w.waitFor('handled', 0, 20000);
  assert(h.data.text === answer, `handled: ${h.data.text}`);
  assert(h.data.context && h.data.context.conversation === 'ha-1', 'the context comes back');
  const reqs = await llm.requests();
  assert(reqs.length === 2, `a tool round: ${reqs.length} requests`);
  assert(reqs[0].body.messages.at(-1).content === 'Remember that I like sunny weather.', 'the text reached the LLM');
  assert(JSON.stringify(reqs[1].body.messages).includes('memory_save'), 'the tool result went back');
  // The same connection keeps its conversation: the second request holds the first turn.
  await llm.script([{ text: 'Yes.' }]);
  const from = w.events.length;
  w.send('transcript', { text: 'Did you get that?' });
  await w.waitFor('handled', from, 20000);
  const last = (await llm.requests()).at(-1).body.messages;
  assert(last.some((m) => m.content === 'Remember that I like sunny weather.'), 'history kept across transcripts');
  w.close();
});

test('bad framing: an error event, then the connection closes', async () => {
  for (const [bytes, why] of [
    [Buffer.from('this is not json\n'), /JSON/],
    [Buffer.from('{"data":{}}\n'), /type/],
    [Buffer.from('{"type":"audio-chunk","payload_length":-4}\n'), /payload_length/],
    [Buffer.from('{"type":"audio-chunk","payload_length":99999999}\n'), /payload_length/],
    [Buffer.from('{"type":"describe","data_length":3}\n[1]'), /data block/],
    [Buffer.from('{"type":"describe","data":[1]}\n'), /'data'/],
    [Buffer.alloc(9000, 0x41), /longer than/],
  ]) {
    const w = new Wyoming(port);
    await w.open();
    w.raw(bytes);
    const e = await w.waitFor('error');
    assert(e.data.code === 'BAD_FRAME' && why.test(e.data.text), `${bytes.subarray(0, 40)}: ${e.data.text}`);
    await w.waitClosed();
  }
});

test('bad events: errors that leave the connection usable; an abrupt disconnect mid-clip', async () => {
  const w = new Wyoming(port);
  await w.open();
  w.send('audio-start', { rate: 16000, width: 4, channels: 1 });
  let e = await w.waitFor('error');
  assert(/16-bit/.test(e.data.text), e.data.text);
  w.send('audio-start', { rate: 16000, width: 2, channels: 1 });
  w.send('audio-chunk', { rate: 16000, width: 2, channels: 1 }, Buffer.alloc(7));
  await w.waitUntil(() => w.events.filter((x) => x.type === 'error').length === 2, 5000, 'second error');
  w.send('synthesize', { voice: { name: 'flite' } });
  await w.waitUntil(() => w.events.filter((x) => x.type === 'error').length === 3, 5000, 'third error');
  await w.waitFor('audio-stop'); // a client waiting for audio is not left hanging
  w.send('transcript', {});
  await w.waitUntil(() => w.events.filter((x) => x.type === 'error').length === 4, 5000, 'fourth error');
  w.send('run-satellite'); // not ours: ignored
  w.send('ping');
  await w.waitFor('pong');
  assert(!w.closed, 'still open');
  // Mid-clip, the client vanishes; the server serves the next one.
  sendClip(w, makeSpeech('What is the weather like today?').subarray(0, 8000));
  w.close();
  const v = new Wyoming(port);
  await v.open();
  sendClip(v, makeSpeech('What is the weather like today?'));
  const t = (await v.waitFor('transcript', 0, 20000)).data.text;
  assert(/weather/.test(t), t);
  v.close();
});

test('off loopback: refused without wyoming.allow_from; served only to the listed addresses', async () => {
  let refused = null;
  try {
    await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_WYOMING_LISTEN: `0.0.0.0:${await freePort()}` } });
  } catch (e) {
    refused = e;
  }
  assert(refused && /wyoming.allow_from/.test(refused.message), `refused: ${refused && refused.message.slice(-300)}`);
  for (const [allow, served] of [['127.0.0.1', true], ['127.0.0.2, 10.0.0.7', false]]) {
    const wport = await freePort();
    const p = await startParley({
      env: { PARLEY_LLM_URL: llm.base, PARLEY_WYOMING_LISTEN: `0.0.0.0:${wport}`, PARLEY_WYOMING_ALLOW_FROM: allow },
    });
    const w = new Wyoming(wport);
    await w.open();
    w.send('describe');
    if (served) await w.waitFor('info');
    else await w.waitClosed();
    assert(served ? !w.closed : !w.events.length, `allow_from ${allow}`);
    w.close();
    await p.stop();
  }
});

llm = await startFakeLlm();
port = await freePort();
parley = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_WYOMING_LISTEN: `127.0.0.1:${port}` } });
await run();
