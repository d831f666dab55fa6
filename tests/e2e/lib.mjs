// Shared pieces of the end-to-end tests: start the test LLM server and
// parley on free ports, make speech with flite, stream it in real time over
// a WebSocket, and wait on protocol events (never on sleeps).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const parleyBin = process.env.PARLEY_BIN || path.join(root, 'build/parley');
export const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-'));

// ---- a tiny test runner: "N passed, N failed" at the end ----
const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}
// Thrown by a test that cannot run here (it says why): reported as a skip,
// never counted as a pass.
export class Skip extends Error {}

export async function run() {
  let passed = 0,
    failed = 0,
    skipped = 0;
  const only = process.env.PARLEY_TEST_ONLY; // a part of a test's name: run just those
  for (const t of tests.filter((x) => !only || x.name.includes(only))) {
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      if (e instanceof Skip) {
        skipped++;
        console.log(`skip ${t.name}: ${e.message}`);
        continue;
      }
      failed++;
      console.log(`FAIL ${t.name}: ${e && e.stack ? e.stack : e}`);
    }
  }
  await cleanup();
  console.log(`${passed} passed, ${skipped} skipped, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const children = new Set();
async function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(tmpDir, { recursive: true, force: true });
}
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolves when a line of the child's output matches re.
function waitForLine(child, stream, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${buf.slice(-2000)}`)), timeoutMs);
    const onData = (d) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(m);
      }
    };
    stream.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${buf.slice(-2000)}`));
    });
  });
}

export async function startFakeLlm(extraArgs = []) {
  const child = spawn(process.execPath, [path.join(root, 'tests/fake_llm/server.mjs'), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const m = await waitForLine(child, child.stdout, /LISTENING (\d+)/, 10000, 'test LLM server');
  const base = `http://127.0.0.1:${m[1]}`;
  return {
    base,
    child,
    async script(replies, dflt) {
      await fetch(`${base}/_control/script`, {
        method: 'POST',
        body: JSON.stringify({ replies, default: dflt }),
      });
    },
    async requests() {
      return (await fetch(`${base}/_control/requests`)).json();
    },
    async reset() {
      await fetch(`${base}/_control/reset`, { method: 'POST' });
    },
    stop() {
      child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

// Starts parley serve; env adds to the environment, args to the command line.
// Each server gets its own data_dir unless env names one (to restart on it).
export async function startParley({ env = {}, args = [] } = {}) {
  const port = await freePort();
  const stderr = [];
  const dataDir = env.PARLEY_DATA_DIR || fs.mkdtempSync(path.join(tmpDir, 'data-'));
  const child = spawn(parleyBin, ['serve', '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, PARLEY_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  children.add(child);
  child.stderr.on('data', (d) => {
    stderr.push(d.toString());
    if (process.env.PARLEY_TEST_VERBOSE) process.stderr.write(d);
  });
  await waitForLine(child, child.stderr, /listening on/, 20000, 'parley');
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    port,
    dataDir,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    child,
    exited,
    log: () => stderr.join(''),
    // Resolves when the server's log matches re `count` times.
    waitLog(re, timeoutMs = 15000, count = 1) {
      const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
      const hits = () => (stderr.join('').match(g) || []).length >= count;
      if (hits()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.stderr.off('data', on);
          reject(new Error(`log never showed ${re} x${count}:\n${stderr.join('').slice(-3000)}`));
        }, timeoutMs);
        const on = () => {
          if (hits()) {
            clearTimeout(timer);
            child.stderr.off('data', on);
            resolve();
          }
        };
        child.stderr.on('data', on);
      });
    },
    // Stops with SIGTERM and checks the exit: a sanitizer report (ASan,
    // LeakSanitizer, UBSan) makes it non-zero, and fails the test.
    async stop() {
      child.kill('SIGTERM');
      const r = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 10000))]);
      if (!r) child.kill('SIGKILL');
      children.delete(child);
      if (!r || r.code !== 0) throw new Error(`parley did not exit cleanly (${JSON.stringify(r)}):\n${stderr.join('').slice(-4000)}`);
      return r;
    },
  };
}

// ---- audio ----

export function readWavPcm16(file) {
  const b = fs.readFileSync(file);
  let off = 12,
    rate = 16000,
    data = null;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const len = b.readUInt32LE(off + 4);
    if (id === 'fmt ') rate = b.readUInt32LE(off + 12);
    if (id === 'data') data = b.subarray(off + 8, off + 8 + len);
    off += 8 + len + (len & 1);
  }
  return { rate, pcm: new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}

// Speech made with flite (slt voice), 16 kHz mono, with silence around it.
export function makeSpeech(text, { voice = 'slt', padBefore = 0.3, padAfter = 1.0 } = {}) {
  const raw = path.join(tmpDir, `raw-${Math.random().toString(36).slice(2)}.wav`);
  const out = raw.replace('raw-', 'speech-');
  execFileSync('flite', ['-voice', voice, '-t', text, '-o', raw]);
  execFileSync('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', out, 'pad', `${padBefore}`, `${padAfter}`]);
  return readWavPcm16(out).pcm;
}

// The clip without its own quiet at either end (20 ms frames under -50
// dBFS), so a caller alone decides how long each pause is.
export function trimQuiet(pcm) {
  const frame = 320;
  const loud = (f) => {
    let e = 0;
    for (let i = f * frame; i < Math.min(pcm.length, (f + 1) * frame); i++) e += pcm[i] * pcm[i];
    return Math.sqrt(e / frame) / 32768 > 0.003;
  };
  const frames = Math.floor(pcm.length / frame);
  let first = 0, last = frames - 1;
  while (first < last && !loud(first)) first++;
  while (last > first && !loud(last)) last--;
  return pcm.subarray(first * frame, (last + 1) * frame);
}

export function silence(ms, rate = 16000) {
  return new Int16Array(Math.round((rate * ms) / 1000));
}

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Int16Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- clients ----

// What a test client shares: conditions waited on, checked again whenever
// the subclass calls _check() (after each event it receives), never polled.
export class Waitable {
  constructor() {
    this.waiters = [];
  }
  _check() {
    for (const w of [...this.waiters]) {
      const hit = w.pred();
      if (hit) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(hit);
      }
    }
  }
  // What was received, for a timeout's message.
  describe() {
    return '';
  }
  // Waits until pred() returns something truthy.
  waitUntil(pred, timeoutMs = 15000, what = 'condition') {
    const hit = pred();
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out waiting for ${what}; saw: ${this.describe()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

export class Client extends Waitable {
  // wsOptions go to the ws library: headers, a TLS authority (ca), ...
  constructor(url, wsOptions = {}) {
    super();
    this.url = url;
    this.wsOptions = wsOptions;
    this.events = []; // {t, msg} or {t, binary: Buffer}
    this.closed = null;
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url, this.wsOptions);
      this.ws.binaryType = 'nodebuffer';
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
      this.ws.on('message', (data, isBinary) => {
        const ev = isBinary ? { t: Date.now(), binary: data } : { t: Date.now(), msg: JSON.parse(data.toString()) };
        this.events.push(ev);
        this._check();
      });
      this.ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString(), t: Date.now() };
        this._check();
      });
    });
  }
  describe() {
    return this.messages().map((m) => m.type + (m.code ? `:${m.code}` : '')).join(' ');
  }
  // Waits for the first message (after index `from`) of a type matching pred.
  waitFor(type, pred = () => true, timeoutMs = 15000, from = 0) {
    return this.waitUntil(
      () => this.events.slice(from).find((e) => e.msg && e.msg.type === type && pred(e.msg))?.msg,
      timeoutMs,
      type,
    );
  }
  waitClosed(timeoutMs = 10000) {
    return this.waitUntil(() => this.closed, timeoutMs, 'close');
  }
  messages(type) {
    return this.events.filter((e) => e.msg && (!type || e.msg.type === type)).map((e) => e.msg);
  }
  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }
  sendBinary(buf) {
    this.ws.send(buf, { binary: true });
  }
  async start(extra = {}) {
    this.send({ type: 'start', sample_rate: 16000, format: 'pcm_s16le', ...extra });
    return this.waitFor('ready');
  }
  // Streams PCM in 20 ms frames at real-time pace (drift-compensated).
  async streamAudio(pcm, { frameMs = 20, realtime = true, rate = 16000 } = {}) {
    const frame = (rate * frameMs) / 1000;
    const t0 = performance.now();
    for (let i = 0, k = 0; i < pcm.length; i += frame, k++) {
      if (this.closed) return;
      const chunk = pcm.subarray(i, Math.min(i + frame, pcm.length));
      this.sendBinary(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (realtime) {
        const due = t0 + (k + 1) * frameMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  close() {
    if (this.ws && !this.closed) this.ws.close();
  }
}

// A client on a loudspeaker without its own echo canceller, as a device
// would be: from start() until stop() it streams its microphone in 20 ms
// frames at real time, holding what its speaker played delayMs ago at
// gainDb, plus whatever the user says (say()). The speaker plays reply audio
// as it arrives, after what it has queued; an agent_interrupted flushes the
// queue, as the browser page does.
export class EchoingMic {
  constructor(c, { delayMs = 150, gainDb = -20 } = {}) {
    Object.assign(this, { c, delay: 16 * delayMs, g: 10 ** (gainDb / 20) });
    this.speaker = [];   // chunks {at, pcm} in samples since start
    this.end = 0;        // where the speaker's queue ends
    this.user = null;    // {at, pcm, resolve}
    this.running = false;
  }
  start() {
    this.running = true;
    this.seen = this.c.events.length;
    this.done = this._loop();
    return this;
  }
  // Speaks pcm from the next frame on; resolves to the wall-clock time
  // (Date.now() basis) at which its first frame was due.
  say(pcm) {
    return new Promise((resolve) => (this.user = { at: null, pcm, resolve }));
  }
  async stop() {
    this.running = false;
    await this.done;
  }
  _take(nowSample) {
    for (; this.seen < this.c.events.length; this.seen++) {
      const e = this.c.events[this.seen];
      if (e.binary) {
        const pcm = new Int16Array(Uint8Array.from(e.binary).buffer); // a copy: frames need not be aligned
        const at = Math.max(this.end, nowSample);
        this.speaker.push({ at, pcm });
        this.end = at + pcm.length;
      } else if (e.msg && e.msg.type === 'agent_interrupted') {
        this.speaker = this.speaker.filter((x) => x.at < nowSample).map((x) =>
          x.at + x.pcm.length > nowSample ? { at: x.at, pcm: x.pcm.subarray(0, nowSample - x.at) } : x,
        );
        this.end = Math.min(this.end, nowSample);
      }
    }
    // What has played out more than the delay ago is no longer heard.
    this.speaker = this.speaker.filter((x) => x.at + x.pcm.length + this.delay > nowSample - 320);
  }
  async _loop() {
    const t0 = performance.now();
    for (let k = 0; this.running && !this.c.closed; k++) {
      const nowSample = k * 320;
      this._take(nowSample);
      const frame = new Float64Array(320);
      for (const x of this.speaker) {
        for (let i = 0; i < 320; i++) {
          const j = nowSample + i - this.delay - x.at;
          if (j >= 0 && j < x.pcm.length) frame[i] += this.g * x.pcm[j];
        }
      }
      if (this.user) {
        if (this.user.at === null) {
          this.user.at = nowSample;
          // When this frame is due in real time (the loop may be catching up).
          this.user.resolve(Date.now() - (performance.now() - (t0 + k * 20)));
        }
        const u = this.user;
        for (let i = 0; i < 320; i++) if (nowSample + i - u.at < u.pcm.length) frame[i] += u.pcm[nowSample + i - u.at];
        if (nowSample + 320 - u.at >= u.pcm.length) this.user = null;
      }
      const out = Int16Array.from(frame, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
      this.c.sendBinary(Buffer.from(out.buffer));
      const wait = t0 + (k + 1) * 20 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}

// Total samples of reply audio for a turn: binary frames between its
// tts_start and tts_phrase_done messages.
export function replyAudio(events, turn) {
  let inTurn = false,
    samples = 0;
  const phrases = [];
  for (const e of events) {
    if (e.msg && e.msg.type === 'tts_start') {
      inTurn = e.msg.turn === turn;
      if (inTurn) phrases.push({ text: e.msg.text, samples: 0, rate: e.msg.sample_rate });
    } else if (e.msg && e.msg.type === 'tts_phrase_done') {
      inTurn = false;
    } else if (e.binary && inTurn) {
      samples += e.binary.length / 2;
      phrases[phrases.length - 1].samples += e.binary.length / 2;
    }
  }
  return { samples, phrases };
}
