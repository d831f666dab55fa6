// Gapless playback of reply audio: each chunk becomes an AudioBufferSourceNode
// scheduled right after the previous one. flush() stops everything at once
// (the next render quantum) and says how much of the turn was heard.
//
// Playback goes out through a loopback RTCPeerConnection pair into an
// <audio> element, because Chromium's echo canceller only cancels audio that
// leaves through WebRTC (Chromium issue 687574); where that cannot connect it
// plays straight to the speakers. No DOM access: the caller passes the
// element.
export class Player {
  constructor() {
    this.ctx = new AudioContext();
    this.out = this.ctx.createGain();
    this.turns = new Map(); // turn → { chunks: [{start, dur, node}], dropped }
    this.nextTime = 0;
    this.route = 'direct';
    this.out.connect(this.ctx.destination);
  }

  // Routes output through a local RTCPeerConnection pair into audioEl.
  async useEchoCancellableRoute(audioEl, timeoutMs = 4000) {
    const dest = this.ctx.createMediaStreamDestination();
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
    b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
    const remote = new Promise((resolve) => (b.ontrack = (e) => resolve(e.streams[0])));
    dest.stream.getTracks().forEach((t) => a.addTrack(t, dest.stream));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    const connected = new Promise((resolve, reject) => {
      const check = () => {
        if (a.connectionState === 'connected') resolve();
        if (a.connectionState === 'failed') reject(new Error('loopback failed'));
      };
      a.onconnectionstatechange = check;
      setTimeout(() => reject(new Error('loopback timed out')), timeoutMs);
    });
    try {
      audioEl.srcObject = await remote;
      await connected;
      await audioEl.play();
      this.out.disconnect();
      this.out.connect(dest);
      this.route = 'webrtc-loopback';
      this.peers = [a, b];
    } catch (e) {
      a.close();
      b.close();
      this.route = 'direct';
      throw e;
    }
  }

  async resume() {
    if (this.ctx.state !== 'running') await this.ctx.resume();
  }

  // pcm: Int16Array at `rate` Hz, belonging to `turn`.
  enqueue(turn, pcm, rate) {
    let t = this.turns.get(turn);
    if (!t) this.turns.set(turn, (t = { chunks: [], dropped: false }));
    if (t.dropped || pcm.length === 0) return;
    const buf = this.ctx.createBuffer(1, pcm.length, rate);
    const ch = buf.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const node = this.ctx.createBufferSource();
    node.buffer = buf;
    node.connect(this.out);
    // A small lead on an empty queue absorbs scheduling jitter.
    const start = Math.max(this.nextTime, this.ctx.currentTime + 0.05);
    node.start(start);
    this.nextTime = start + buf.duration;
    t.chunks.push({ start, dur: buf.duration, node });
  }

  // Milliseconds of the turn's audio played so far.
  playedMs(turn) {
    const t = this.turns.get(turn);
    if (!t) return 0;
    if (t.playedAtFlush !== undefined) return t.playedAtFlush;
    const now = this.ctx.currentTime;
    let ms = 0;
    for (const c of t.chunks) ms += Math.max(0, Math.min(c.dur, now - c.start)) * 1000;
    return Math.round(ms);
  }

  // Stops the turn's audio now and drops any that still arrives.
  flush(turn) {
    const t = this.turns.get(turn) || { chunks: [] };
    const played = this.playedMs(turn);
    for (const c of t.chunks) {
      try {
        c.node.stop();
      } catch {}
      c.node.disconnect();
    }
    t.chunks = [];
    t.dropped = true;
    t.playedAtFlush = played;
    this.turns.set(turn, t);
    this.nextTime = this.ctx.currentTime;
    return played;
  }

  // True while audio is scheduled ahead of now.
  get playing() {
    return this.nextTime > this.ctx.currentTime;
  }
}
