// The page: wires the microphone, the connection and the player to the
// conversation view. Protocol v1 is in docs/protocol.md.
import { startCapture } from './audio/capture.js';
import { levelDb } from './audio/downsample.js';
import { Player } from './audio/playback.js';
import { opusSupported, OpusUplink, OpusDownlink } from './audio/opus.js';
import { Connection } from './net.js';

const $ = (id) => document.getElementById(id);
const ui = {
  state: $('state'), connection: $('connection'), asr: $('asr'), log: $('log'), partial: $('partial'), error: $('error'),
  mic: $('mic'), level: $('level'), talk: $('talk'), stop: $('stop'), ptt: $('ptt'), halfduplex: $('halfduplex'),
  voice: $('voice'), codec: $('codec'), codecNote: $('codec-note'), compose: $('compose'), text: $('text'), out: $('out'), fresh: $('new'),
  notice: $('llm-notice'), noticeProblem: $('llm-problem'), noticeFix: $('llm-fix'),
  signin: $('signin'), signinForm: $('signin-form'), signinWhy: $('signin-why'), token: $('token'), signout: $('signout'),
};

// A user's token, when the server asks for one (auth on): kept in this
// browser until "Sign out", sent in 'start' (a browser cannot set headers on
// a WebSocket).
const TOKEN_KEY = 'parley.token';
const savedToken = () => {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
};
const saveToken = (t) => {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {}
};

// The conversation this page continues, across reloads and reconnects.
const CONVERSATION_KEY = 'parley.conversation';
const savedConversation = () => {
  try {
    return localStorage.getItem(CONVERSATION_KEY) || '';
  } catch {
    return ''; // storage blocked: every connection is a new conversation
  }
};
const saveConversation = (id) => {
  try {
    if (id) localStorage.setItem(CONVERSATION_KEY, id);
    else localStorage.removeItem(CONVERSATION_KEY);
  } catch {}
};

// What tests and curious users can read: window.parley.stats.
const stats = { played: {}, route: 'direct', capture: null, interrupted: [], turnsDone: 0 };
window.parley = { stats };

const player = new Player();

// How audio travels: Opus both ways when this browser's WebCodecs has it
// (about a tenth of PCM's bytes), PCM otherwise or when the "Audio" setting
// asks for it. The setting is kept in this browser.
const CODEC_KEY = 'parley.codec';
try {
  ui.codec.value = localStorage.getItem(CODEC_KEY) || 'auto';
} catch {}
const canOpus = await opusSupported();
const wantOpus = () => canOpus && ui.codec.value !== 'pcm';
let audioOut = 'pcm_s16le'; // what this session's ready said
let uplink = null; // this session's Opus encoder
const downlink = new OpusDownlink((turn, pcm, rate) => player.enqueue(turn, pcm, rate));
let capture = null;
let talking = false; // push-to-talk held
let replyRate = 16000;
let currentTurn = 0; // the turn whose audio is arriving
const assistantEl = new Map(); // turn → <li>
let voices = [];
let tokenJustEntered = false; // to tell a mistyped token from one that stopped working

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

// The server's check of its LLM (ready.llm, llm_status): a note with the fix
// before the user speaks, gone once the model answers.
function showLlm(llm) {
  const missing = !!(llm && llm.checked && !llm.ok);
  stats.llm = llm || null;
  ui.notice.hidden = !missing;
  if (!missing) {
    if (ui.error.textContent.startsWith('LLM_FAIL')) showError(''); // what it was about is fixed
    return;
  }
  ui.noticeProblem.textContent = llm.problem || '';
  ui.noticeFix.textContent = llm.fix || '';
}

function setState(s) {
  ui.state.dataset.state = s;
  ui.state.textContent = s;
}

function addLine(cls, text) {
  const li = document.createElement('li');
  li.className = cls;
  li.textContent = text;
  ui.log.appendChild(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

function assistantLine(turn) {
  let li = assistantEl.get(turn);
  if (!li) {
    li = addLine('assistant', '');
    li.dataset.turn = turn;
    li.append(document.createElement('span'));
    assistantEl.set(turn, li);
  }
  return li;
}

const conn = new Connection(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  () => ({
    type: 'start', sample_rate: 16000,
    ...(wantOpus() ? { format: 'opus', output_format: 'opus' } : { format: 'pcm_s16le' }),
    ...(ui.voice.value ? { tts: ui.voice.value } : {}),
    half_duplex: ui.halfduplex.checked,
    ...(savedConversation() ? { conversation_id: savedConversation() } : {}),
    ...(savedToken() ? { token: savedToken() } : {}),
  }),
  {
    onStatus(s) {
      ui.connection.textContent = s === 'open' ? 'connected' : s === 'connecting' ? 'connecting…' : 'Disconnected — reconnecting…';
      ui.connection.classList.toggle('bad', s === 'reconnecting');
      if (s !== 'open') setState('offline');
    },
    onMessage: handle,
    onAudio(buf) {
      if (audioOut === 'opus') downlink.push(currentTurn, buf);
      else player.enqueue(currentTurn, new Int16Array(buf), replyRate);
    },
  },
);

// Which recogniser hears this page: "hearing: whisper (partials: pocketsphinx)".
function showAsr(asr) {
  if (!asr || !asr.engine) return;
  const partials = asr.partials && asr.partials !== asr.engine ? ` (partials: ${asr.partials})` : '';
  ui.asr.textContent = `hearing: ${asr.engine}${partials}`;
}

// A new session's audio formats: one encoder per session (the server's
// decoder starts fresh too), and the setting's note says what is in use.
function useCodec(out) {
  audioOut = (out && out.format) || 'pcm_s16le';
  if (uplink) uplink.close();
  uplink = audioOut === 'opus' ? new OpusUplink((packet) => conn.sendAudio(packet)) : null;
  if (audioOut === 'opus') downlink.configure(out.sample_rate);
  stats.codec = audioOut === 'opus' ? 'opus' : 'pcm';
  ui.codecNote.textContent = audioOut === 'opus' ? 'audio: Opus' : canOpus ? 'audio: PCM' : 'audio: PCM (no Opus in this browser)';
}

function handle(m) {
  switch (m.type) {
    case 'ready':
      tokenJustEntered = false;
      ui.signin.hidden = true;
      ui.signout.hidden = !savedToken();
      saveConversation(m.conversation_id);
      stats.conversation = m.conversation_id;
      voices = m.tts_engines || [];
      if (ui.voice.options.length !== voices.length) {
        const keep = ui.voice.value;
        ui.voice.replaceChildren(...voices.map((v) => new Option(v, v)));
        if (keep) ui.voice.value = keep;
      }
      showError('');
      showLlm(m.llm);
      showAsr(m.asr);
      useCodec(m.audio_out);
      break;
    case 'llm_status':
      showLlm(m.llm);
      break;
    case 'state':
      setState(m.state);
      break;
    case 'transcript_partial':
      ui.partial.textContent = m.text;
      break;
    case 'transcript_final':
      ui.partial.textContent = '';
      if (m.text) addLine('user', m.text).dataset.turn = m.turn;
      break;
    case 'thinking': // a thinking model reasons before it answers: say so where the answer will be
      assistantLine(m.turn).classList.add('thinking');
      break;
    case 'assistant_text': {
      const li = assistantLine(m.turn);
      if (m.text) li.classList.remove('thinking');
      const span = li.firstChild;
      if (m.status === 'chunk') span.textContent += m.text;
      if (m.status === 'end') span.textContent = m.text;
      break;
    }
    case 'tool_call':
      addLine('tool', `${m.name}(${JSON.stringify(m.arguments)})`).dataset.call = m.id;
      break;
    case 'tool_result': {
      const li = [...ui.log.querySelectorAll('li.tool')].find((e) => e.dataset.call === m.id);
      if (li) {
        li.classList.add(m.is_error ? 'failed' : 'ok');
        li.title = typeof m.result === 'string' ? m.result : JSON.stringify(m.result);
      }
      break;
    }
    case 'tts_start':
      currentTurn = m.turn;
      replyRate = m.sample_rate;
      if (audioOut === 'opus') downlink.configure(replyRate);
      break;
    case 'agent_interrupted': {
      const ms = player.flush(m.turn);
      stats.played[m.turn] = ms;
      stats.interrupted.push(m.turn);
      conn.send({ type: 'played', turn: m.turn, ms });
      assistantLine(m.turn).classList.add('interrupted');
      setState('interrupted');
      break;
    }
    case 'done': {
      stats.turnsDone++;
      const li = assistantLine(m.turn);
      const k = m.metrics || {};
      if (typeof k.first_audio_ms === 'number') {
        const lat = document.createElement('small');
        lat.className = 'latency';
        lat.textContent = k.input === 'text'
          ? `first audio ${Math.round(k.first_audio_ms)} ms after sending`
          : `speech end → first audio ${Math.round(k.first_audio_ms)} ms`;
        li.append(lat);
      }
      const turn = m.turn;
      // Report what was played once the audio has had time to play out.
      const report = () => (player.playing ? setTimeout(report, 200) : (stats.played[turn] = player.playedMs(turn)));
      report();
      break;
    }
    case 'error':
      if (m.code === 'NOT_FOUND') break; // a forgotten conversation: ready brings a new one
      if (m.code === 'UNAUTHORIZED' || m.code === 'RATE_LIMITED') {
        askForToken(m);
        break;
      }
      showError(`${m.code}: ${m.message}`);
      break;
    case 'info':
      break;
  }
}

// The server refused the session: stop reconnecting and ask for a token.
function askForToken(m) {
  conn.hold();
  const had = savedToken();
  if (m.code === 'UNAUTHORIZED') saveToken('');
  stats.auth = m.code;
  ui.signin.hidden = false;
  ui.signout.hidden = true;
  ui.signinWhy.textContent = m.code === 'RATE_LIMITED' ? m.message
    : had && tokenJustEntered ? 'That token was not accepted. Check it and try again.'
    : had ? 'That token no longer works (it was replaced, or its user removed). Enter a new one.' : '';
  setState('offline');
  ui.connection.textContent = 'signed out';
  ui.token.focus();
}

ui.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const t = ui.token.value.trim();
  if (!t) return;
  saveToken(t);
  tokenJustEntered = true;
  saveConversation(''); // a conversation belongs to a user: start one as this one
  ui.token.value = '';
  ui.signinWhy.textContent = '';
  ui.signin.hidden = true;
  conn.resume();
});
ui.signout.addEventListener('click', () => {
  saveToken('');
  saveConversation('');
  ui.log.replaceChildren();
  assistantEl.clear();
  conn.hold();
  askForToken({ code: 'UNAUTHORIZED' });
});

async function micOn() {
  try {
    await player.resume();
    capture = await startCapture((frame) => {
      ui.level.value = Math.max(-70, levelDb(frame));
      if (ui.ptt.checked && !talking) return;
      if (uplink) uplink.push(frame);
      else conn.sendAudio(frame);
    });
    stats.capture = capture.mode;
    ui.mic.setAttribute('aria-pressed', 'true');
    ui.mic.querySelector('.mic-text').textContent = 'Mic on';
    showError('');
  } catch (e) {
    capture = null;
    const refused = e && (e.name === 'NotAllowedError' || e.name === 'SecurityError');
    showError(refused
      ? 'Microphone access was refused. You can still type your messages below.'
      : `The microphone could not be started (${e && e.message}). You can still type.`);
    ui.mic.setAttribute('aria-pressed', 'false');
  }
}

function micOff() {
  if (capture) capture.stop();
  capture = null;
  ui.level.value = -70;
  ui.mic.setAttribute('aria-pressed', 'false');
  ui.mic.querySelector('.mic-text').textContent = 'Mic off';
}

ui.mic.addEventListener('click', () => (capture ? micOff() : micOn()));
ui.stop.addEventListener('click', () => conn.send({ type: 'cancel' }));
ui.compose.addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  await player.resume();
  addLine('user', text);
  conn.send({ type: 'text', text });
  ui.text.value = '';
});
ui.ptt.addEventListener('change', () => (ui.talk.hidden = !ui.ptt.checked));
const press = (on) => {
  if (!ui.ptt.checked || talking === on) return;
  talking = on;
  ui.talk.classList.toggle('active', on);
  if (!on) conn.send({ type: 'stop' });
};
ui.talk.addEventListener('pointerdown', () => press(true));
ui.talk.addEventListener('pointerup', () => press(false));
ui.talk.addEventListener('pointerleave', () => press(false));
window.addEventListener('keydown', (e) => {
  if (e.code === 'Space' && e.target !== ui.text && !e.repeat && ui.ptt.checked) {
    e.preventDefault();
    press(true);
  }
});
window.addEventListener('keyup', (e) => {
  if (e.code === 'Space' && e.target !== ui.text && ui.ptt.checked) press(false);
});
ui.voice.addEventListener('change', () => conn.restart());
ui.fresh.addEventListener('click', () => {
  saveConversation('');
  ui.log.replaceChildren();
  assistantEl.clear();
  conn.restart();
});
ui.halfduplex.addEventListener('change', () => conn.restart());
ui.codec.addEventListener('change', () => {
  try {
    localStorage.setItem(CODEC_KEY, ui.codec.value);
  } catch {}
  conn.restart();
});

// Route playback through WebRTC so the browser's echo canceller hears it.
player
  .useEchoCancellableRoute(ui.out)
  .then(() => (stats.route = player.route))
  .catch(() => (stats.route = 'direct'));
