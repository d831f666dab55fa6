// The WebSocket connection to parley (protocol v1), with automatic
// reconnection. Callbacks: onMessage(obj), onAudio(ArrayBuffer), onStatus(s)
// where s is 'connecting' | 'open' | 'reconnecting'.
export class Connection {
  constructor(url, startMessage, { onMessage, onAudio, onStatus }) {
    Object.assign(this, { url, startMessage, onMessage, onAudio, onStatus });
    this.retryMs = 500;
    this.closedByUs = false;
    this.open();
  }

  open() {
    this.onStatus(this.everOpened ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.everOpened = true;
      this.retryMs = 500;
      ws.send(JSON.stringify(this.startMessage()));
      this.onStatus('open');
    };
    ws.onmessage = (e) => (typeof e.data === 'string' ? this.onMessage(JSON.parse(e.data)) : this.onAudio(e.data));
    ws.onclose = () => {
      if (this.closedByUs || this.ws !== ws) return;
      this.everOpened = true;
      this.onStatus('reconnecting');
      setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    };
  }

  // Stops reconnecting (the server refused us) until resume().
  hold() {
    this.closedByUs = true;
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
  }

  resume() {
    this.closedByUs = false;
    this.retryMs = 500;
    this.open();
  }

  get ready() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(obj) {
    if (this.ready) this.ws.send(JSON.stringify(obj));
  }

  // frame: an Int16Array of PCM, or an ArrayBuffer holding one Opus packet.
  sendAudio(frame) {
    if (this.ready) this.ws.send(frame instanceof ArrayBuffer ? frame : frame.buffer);
  }

  // Starts a fresh session (after a setting that `start` carries changed).
  restart() {
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.open();
  }
}
