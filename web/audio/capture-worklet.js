// AudioWorklet processor: the microphone at the device rate in, 20 ms frames
// of 16 kHz mono Int16 out (posted to the main thread, which sends them).
import { Downsampler } from './downsample.js';

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.down = new Downsampler(sampleRate);
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.down.push(ch, (frame) => this.port.postMessage(frame, [frame.buffer]));
    return true;
  }
}

registerProcessor('parley-capture', CaptureProcessor);
