// Opus in the browser through WebCodecs (AudioEncoder/AudioDecoder): the
// microphone's 20 ms 16 kHz frames become one Opus packet each, and the
// reply's packets become Int16 PCM for the player. No DOM access.

export const OPUS_UP = { codec: 'opus', sampleRate: 16000, numberOfChannels: 1, bitrate: 24000 };

// Whether this browser can encode and decode Opus (WebCodecs needs a secure
// context: https, or http on localhost).
export async function opusSupported() {
  if (typeof AudioEncoder === 'undefined' || typeof AudioDecoder === 'undefined') return false;
  try {
    const enc = await AudioEncoder.isConfigSupported({ ...OPUS_UP, opus: { frameDuration: 20000 } });
    const dec = await AudioDecoder.isConfigSupported({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1 });
    return !!(enc.supported && dec.supported);
  } catch {
    return false;
  }
}

// Microphone frames (Int16Array, 16 kHz) in; onPacket(ArrayBuffer) out.
export class OpusUplink {
  constructor(onPacket) {
    this.t = 0;
    this.enc = new AudioEncoder({
      output: (chunk) => {
        const buf = new ArrayBuffer(chunk.byteLength);
        chunk.copyTo(buf);
        onPacket(buf);
      },
      error: () => {}, // a closed encoder: the page falls back on reconnect
    });
    this.enc.configure({ ...OPUS_UP, opus: { frameDuration: 20000 } });
  }

  push(frame) {
    if (this.enc.state !== 'configured') return;
    const data = new AudioData({
      format: 's16', sampleRate: 16000, numberOfFrames: frame.length, numberOfChannels: 1, timestamp: this.t, data: frame,
    });
    this.t += (frame.length * 1e6) / 16000;
    this.enc.encode(data);
    data.close();
  }

  close() {
    if (this.enc.state !== 'closed') this.enc.close();
  }
}

// Reply packets in, each tagged with its turn; onPcm(turn, Int16Array, rate)
// out, in the order the packets came.
export class OpusDownlink {
  constructor(onPcm) {
    this.onPcm = onPcm;
    this.rate = 0;
    this.turns = []; // the turn of each packet still in the decoder
    this.t = 0;
  }

  // A new reply rate (ready.audio_out, tts_start) needs a decoder of its own.
  configure(rate) {
    if (rate === this.rate && this.dec && this.dec.state === 'configured') return;
    this.close();
    this.rate = rate;
    this.turns = [];
    this.dec = new AudioDecoder({
      output: (data) => {
        const turn = this.turns.shift();
        const f = new Float32Array(data.numberOfFrames);
        data.copyTo(f, { planeIndex: 0, format: 'f32-planar' });
        const pcm = new Int16Array(f.length);
        for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32767)));
        if (turn !== undefined) this.onPcm(turn, pcm, data.sampleRate);
        data.close();
      },
      error: () => {},
    });
    this.dec.configure({ codec: 'opus', sampleRate: rate, numberOfChannels: 1 });
  }

  push(turn, packet) {
    if (!this.dec || this.dec.state !== 'configured') return;
    this.turns.push(turn);
    this.dec.decode(new EncodedAudioChunk({ type: 'key', timestamp: this.t, data: packet }));
    this.t += 20000;
  }

  close() {
    if (this.dec && this.dec.state !== 'closed') this.dec.close();
    this.dec = null;
  }
}
