// Converts float audio at the device rate to 16 kHz mono Int16 frames of a
// fixed length. No DOM: used by the capture worklet and the fallback path.
export class Downsampler {
  constructor(inRate, outRate = 16000, frameSamples = 320) {
    this.ratio = inRate / outRate;
    this.frameSamples = frameSamples;
    this.frame = new Int16Array(frameSamples);
    this.fill = 0;
    this.pos = 0; // fractional read position into the pending input
    this.pending = new Float32Array(0);
  }

  // Feeds mono float samples; calls onFrame(Int16Array) for each full frame.
  push(input, onFrame) {
    const buf = new Float32Array(this.pending.length + input.length);
    buf.set(this.pending);
    buf.set(input, this.pending.length);
    const r = this.ratio;
    let pos = this.pos;
    // Each output sample averages the input span it covers (a box filter),
    // enough anti-aliasing for speech recognition at 16 kHz.
    while (pos + r <= buf.length) {
      const start = Math.floor(pos);
      const end = Math.min(buf.length, Math.floor(pos + r));
      let sum = 0;
      for (let i = start; i < end; i++) sum += buf[i];
      const v = end > start ? sum / (end - start) : buf[start];
      const s = Math.max(-1, Math.min(1, v));
      this.frame[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.fill === this.frameSamples) {
        onFrame(this.frame.slice());
        this.fill = 0;
      }
      pos += r;
    }
    const keep = Math.floor(pos);
    this.pending = buf.slice(keep);
    this.pos = pos - keep;
  }
}

// RMS level of a frame in dBFS (for the input meter).
export function levelDb(frame) {
  let e = 0;
  for (let i = 0; i < frame.length; i++) e += frame[i] * frame[i];
  const rms = Math.sqrt(e / frame.length) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -100;
}
