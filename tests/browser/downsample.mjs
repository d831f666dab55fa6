// The capture path's downsampler alone (no browser): 48 kHz and 44.1 kHz in,
// 20 ms frames of 16 kHz Int16 out, independent of how input is chunked.
import { Downsampler, levelDb } from '../../web/audio/downsample.js';
import { test, run, assert } from '../e2e/lib.mjs';

function sine(rate, seconds, freq = 440, amp = 0.5) {
  const x = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return x;
}

for (const rate of [48000, 44100, 16000]) {
  test(`${rate} Hz → 16 kHz frames`, () => {
    const input = sine(rate, 1);
    const frames = [];
    const d = new Downsampler(rate);
    // Uneven chunks, like render quanta and ScriptProcessor buffers mixed.
    for (let off = 0, k = 0; off < input.length; k++) {
      const n = [128, 4096, 7, 333][k % 4];
      d.push(input.subarray(off, off + n), (f) => frames.push(f));
      off += n;
    }
    assert(frames.length === 50 || frames.length === 49, `${frames.length} frames in 1 s`);
    assert(frames.every((f) => f.length === 320), 'every frame is 320 samples');
    // A 440 Hz sine at half scale keeps its level (-9 dBFS RMS).
    const db = levelDb(frames[10]);
    assert(db > -10 && db < -8, `level ${db.toFixed(2)} dBFS`);
  });
}

test('level of silence is very low', () => {
  assert(levelDb(new Int16Array(320)) <= -100, 'silence');
});

await run();
