// Microphone capture: getUserMedia with echo cancellation, noise suppression
// and auto gain; an AudioWorklet (or, where missing, a ScriptProcessorNode)
// turns it into 20 ms 16 kHz Int16 frames. No DOM access.
import { Downsampler } from './downsample.js';

export async function startCapture(onFrame) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  });
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  let node;
  let mode;
  if (ctx.audioWorklet && typeof AudioWorkletNode !== 'undefined') {
    await ctx.audioWorklet.addModule(new URL('./capture-worklet.js', import.meta.url));
    node = new AudioWorkletNode(ctx, 'parley-capture', { numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1 });
    node.port.onmessage = (e) => onFrame(e.data);
    source.connect(node);
    mode = 'audioworklet';
  } else {
    const down = new Downsampler(ctx.sampleRate);
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => down.push(e.inputBuffer.getChannelData(0), onFrame);
    source.connect(node);
    node.connect(ctx.destination); // a ScriptProcessor only runs when connected
    mode = 'scriptprocessor';
  }
  return {
    mode,
    stop() {
      source.disconnect();
      node.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      ctx.close();
    },
  };
}
