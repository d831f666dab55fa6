// The browser client in a real browser: Debian's chromium driven by
// playwright-core, with a WAV file as the microphone, against parley and the
// test LLM server. Keeps a screenshot of a conversation in tests/artifacts/.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { test, run, assert, startFakeLlm, startParley, root, tmpDir, parleyBin } from '../e2e/lib.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.join(root, 'tests/artifacts');
fs.mkdirSync(artifacts, { recursive: true });

// Speech for the fake microphone: flite, 16 kHz mono, with silence around it.
// Chromium loops the file, so the words come back every cycle.
function micWav(text, before, after) {
  const raw = path.join(tmpDir, `mic-raw-${Date.now()}.wav`);
  const out = raw.replace('mic-raw', 'mic');
  execFileSync('flite', ['-voice', 'slt', '-t', text, '-o', raw]);
  execFileSync('sox', ['-R', raw, '-r', '16000', '-c', '1', '-b', '16', out, 'pad', `${before}`, `${after}`]);
  return out;
}

async function launch(wav, { allowMic = true, extraArgs = [] } = {}) {
  const args = [...extraArgs,
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    '--allow-loopback-in-peer-connection', '--use-fake-device-for-media-stream',
  ];
  if (allowMic) args.push('--use-fake-ui-for-media-stream');
  else args.push('--deny-permission-prompts');
  if (wav) args.push(`--use-file-for-fake-audio-capture=${wav}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  const page = await browser.newPage({ viewport: { width: 420, height: 780 } });
  // Everything the console would show a user: errors, failed loads, crashes.
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()} ${r.url()}`));
  return { browser, page, problems };
}

// Starts the test LLM with replies, parley, and a browser on its page with
// `wav` as the microphone; resolves once the page is connected.
async function openPage(replies, wav, launchOpts, { llmArgs = [], parleyArgs = [] } = {}) {
  const llm = await startFakeLlm(llmArgs);
  await llm.script(replies);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: parleyArgs });
  const { browser, page, problems } = await launch(wav, launchOpts);
  // What goes over the page's WebSocket: binary frames and their bytes, each way.
  const wire = { up: { binary: 0, bytes: 0 }, down: { binary: 0, bytes: 0 } };
  page.on('websocket', (ws) => {
    const count = (side) => (f) => {
      if (typeof f.payload === 'string') return;
      wire[side].binary++;
      wire[side].bytes += f.payload.length;
    };
    ws.on('framesent', count('up'));
    ws.on('framereceived', count('down'));
  });
  await page.goto(`http://127.0.0.1:${p.port}/`);
  await page.getByRole('status').filter({ hasText: /^connected$/ }).waitFor();
  return { llm, p, browser, page, problems, wire };
}

// Ends a test: the console stayed clean (but for what the test expects),
// then everything stops.
async function finish({ llm, p, browser, problems }, expected = []) {
  await browser.close();
  if (p) await p.stop();
  llm.stop();
  const unexpected = problems.filter((x) => !expected.some((re) => re.test(x)));
  assert(unexpected.length === 0, `the browser console is clean: ${JSON.stringify(unexpected)}`);
}

const reply = 'It is sunny and warm today. You will not need an umbrella.';

// Bytes per second each way. Every microphone frame is 20 ms; so is every
// Opus reply packet, while PCM reply frames are as long as their bytes say.
function wireRates(wire, codec) {
  return {
    up: Math.round(wire.up.bytes / (wire.up.binary * 0.02)),
    down: codec === 'opus' ? Math.round(wire.down.bytes / (wire.down.binary * 0.02)) : 16000 * 2,
  };
}
let opusRates = null; // from the first conversation, which runs in Opus

test('speak, see the transcript, hear the streamed answer', async () => {
  const ctx = await openPage([{ text: reply }], micWav('What is the weather like today?', 0.5, 12));
  const { llm, p, page } = ctx;
  // The page routes playback through a loopback RTCPeerConnection.
  await page.waitForFunction(() => window.parley.stats.route === 'webrtc-loopback', null, { timeout: 10000 });
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.waitForFunction(() => window.parley.stats.capture === 'audioworklet', null, { timeout: 5000 });
  await page.locator('li.user', { hasText: 'weather' }).waitFor({ timeout: 20000 });
  await page.locator('li.assistant', { hasText: 'umbrella' }).waitFor({ timeout: 20000 });
  // The page says which recogniser hears (no Whisper model here), and that
  // audio goes as Opus both ways (Chromium has WebCodecs' Opus).
  assert((await page.locator('#asr').textContent()) === 'hearing: pocketsphinx', await page.locator('#asr').textContent());
  assert((await page.locator('#codec-note').textContent()) === 'audio: Opus', await page.locator('#codec-note').textContent());
  await page.screenshot({ path: path.join(artifacts, 'conversation.png') });
  await page.locator('li.assistant .latency').waitFor({ timeout: 20000 });
  // The player reports about the reply's length (flite: ~4 s for 11 words).
  const played = await page.waitForFunction(() => window.parley.stats.played[1], null, { timeout: 20000 });
  const ms = await played.jsonValue();
  assert(ms > 2500 && ms < 7000, `played ${ms} ms of the reply`);
  // The whole reply has come (and played): Opus packets went both ways.
  assert(ctx.wire.up.binary > 50 && ctx.wire.down.binary > 50, `Opus packets both ways: ${JSON.stringify(ctx.wire)}`);
  opusRates = wireRates(ctx.wire, 'opus');
  await page.screenshot({ path: path.join(artifacts, 'conversation-done.png') });
  await finish(ctx);
});

test('the Audio setting: PCM when asked for, and what Opus saves', async () => {
  const ctx = await openPage([{ text: reply }], micWav('What is the weather like today?', 0.5, 12));
  const { page } = ctx;
  await page.getByLabel('Audio').selectOption('pcm'); // the page reconnects with PCM
  await page.waitForFunction(() => window.parley.stats.codec === 'pcm', null, { timeout: 10000 });
  assert((await page.locator('#codec-note').textContent()) === 'audio: PCM', await page.locator('#codec-note').textContent());
  for (const side of ['up', 'down']) Object.assign(ctx.wire[side], { binary: 0, bytes: 0 });
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.locator('li.user', { hasText: 'weather' }).waitFor({ timeout: 20000 });
  await page.locator('li.assistant .latency').waitFor({ timeout: 20000 });
  const pcm = wireRates(ctx.wire, 'pcm');
  assert(pcm.up === 32000, `PCM is 16-bit at 16 kHz: ${JSON.stringify(pcm)}`);
  assert(ctx.wire.down.bytes > 2 * 16000 * 2.5, `a PCM reply came: ${ctx.wire.down.bytes} bytes`);
  if (opusRates) {
    console.log(`  browser bytes/s up: PCM ${pcm.up}, Opus ${opusRates.up}; down: PCM ${pcm.down}, Opus ${opusRates.down}`);
    assert(opusRates.up < pcm.up / 5 && opusRates.down < pcm.down / 5, 'Opus is under a fifth of PCM both ways');
  }
  // The setting is kept: a reload stays on PCM.
  await page.reload();
  await page.waitForFunction(() => window.parley.stats.codec === 'pcm', null, { timeout: 10000 });
  await finish(ctx);
});

test('barge-in: the looping microphone talks over a long reply', async () => {
  const long = 'The ocean covers most of the planet. It holds countless creatures. Whales sing across great distances. '.repeat(3);
  // Speech, then 4 s of silence, then it loops: the second time comes over the reply.
  const ctx = await openPage([{ text: long, token_ms: 20 }, { text: 'Noon in London.' }], micWav('What time is it in London?', 0.5, 4));
  const { llm, p, page } = ctx;
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.locator('li.assistant.interrupted').first().waitFor({ timeout: 30000 });
  const stats = await page.evaluate(() => window.parley.stats);
  assert(stats.interrupted.includes(1), `turn 1 interrupted: ${JSON.stringify(stats)}`);
  // Flushed mid-reply: some of it played, far from all (the reply is ~25 s).
  assert(stats.played[1] > 0 && stats.played[1] < 10000, `played ${stats.played[1]} ms before the interruption`);
  // The interruption is visible, and the new question is answered.
  await page.locator('li.user', { hasText: 'london' }).nth(1).waitFor({ timeout: 20000 });
  await page.locator('li.assistant', { hasText: 'Noon in London.' }).waitFor({ timeout: 20000 });
  await finish(ctx);
});

test('push to talk: space held while speaking, released to end the utterance', async () => {
  const ctx = await openPage([{ text: 'Push to talk works.' }], micWav('Tell me a joke about computers.', 0.3, 20));
  const { llm, p, page } = ctx;
  await page.getByLabel('Push to talk').check();
  await page.getByRole('button', { name: 'Hold to talk' }).waitFor();
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.locator('body').focus();
  await page.keyboard.down('Space');
  // Hold for as long as the user speaks (the file's 2.3 s of speech).
  await page.waitForTimeout(2600);
  await page.keyboard.up('Space');
  await page.locator('li.user', { hasText: 'joke' }).waitFor({ timeout: 15000 });
  await page.locator('li.assistant', { hasText: 'Push to talk works.' }).waitFor({ timeout: 15000 });
  await finish(ctx);
});

test('a typed turn gets a streamed answer (from a model that thinks first)', async () => {
  const ctx = await openPage([{ thinking: 'Let me think about a friendly greeting for a while.', thinking_ms: 150,
    text: 'Typed answers work too. Ça marche, 東京 😀.' }], null);
  const { llm, p, page } = ctx;
  await page.getByLabel('Message').fill('Hello there, café 😀');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.user', { hasText: 'Hello there, café 😀' }).waitFor();
  await page.locator('li.assistant.thinking').waitFor({ timeout: 10000 }); // "thinking…" while the model reasons
  await page.locator('li.assistant', { hasText: 'Typed answers work too. Ça marche, 東京 😀.' }).waitFor({ timeout: 15000 });
  assert((await page.locator('li.assistant.thinking').count()) === 0, 'the note goes when the answer comes');
  const reqs = await llm.requests();
  assert(reqs[0].body.messages.at(-1).content === 'Hello there, café 😀', 'typed text reached the LLM');
  await finish(ctx);
});

test('a reload resumes the conversation; tool calls are shown; "New conversation" starts over', async () => {
  const ctx = await openPage(
    [
      { text: 'Saved.', tool_calls: [{ name: 'movies_save', arguments: { title: 'Alien', rating: 9 } }] },
      { text: 'Alien, rated nine.' },
      { text: 'You rated Alien nine.' },
      { text: 'Hello, stranger.' },
    ],
    null,
  );
  const { llm, p, page } = ctx;
  await page.getByLabel('Message').fill('Rate Alien nine');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.tool.ok', { hasText: 'movies_save' }).waitFor({ timeout: 15000 });
  await page.locator('li.assistant', { hasText: 'rated nine' }).waitFor({ timeout: 15000 });
  const first = await page.evaluate(() => window.parley.stats.conversation);
  await page.reload();
  const again = await page.waitForFunction(() => window.parley.stats.conversation, null, { timeout: 10000 });
  assert((await again.jsonValue()) === first, 'the same conversation after a reload');
  await page.getByLabel('Message').fill('What did I rate?');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.assistant', { hasText: 'You rated Alien nine.' }).waitFor({ timeout: 15000 });
  const reqs = (await llm.requests()).filter((r) => r.path === '/api/chat');
  const context = reqs[2].body.messages.map((m) => m.content);
  assert(context.includes('Rate Alien nine') && context.includes('What did I rate?'), `history resumed: ${context}`);
  await page.getByRole('button', { name: 'Start a new conversation' }).click();
  await page.waitForFunction((id) => window.parley.stats.conversation && window.parley.stats.conversation !== id, first, { timeout: 10000 });
  assert((await page.locator('li').count()) === 0, 'the view is cleared');
  await finish(ctx);
});

test('a refused microphone and a server that goes away are shown plainly', async () => {
  const ctx = await openPage([{ text: 'Still here.' }], null, { allowMic: false });
  const { llm, p, page } = ctx;
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor({ timeout: 10000 });
  // Text chat still works.
  await page.getByLabel('Message').fill('Can you hear me?');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.assistant', { hasText: 'Still here.' }).waitFor({ timeout: 15000 });
  await p.stop();
  await page.getByText('reconnecting').waitFor({ timeout: 10000 });
  // The reconnecting page's failed attempts are the only expected noise.
  await finish({ ...ctx, p: null }, [/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/]);
});

test('a missing model: the page says how to fix it before anyone speaks, and the microphone still works', async () => {
  const ctx = await openPage([{ text: 'Now I can answer.' }], micWav('Testing the microphone.', 0.3, 30), undefined, {
    llmArgs: ['--models', 'llama3.2:latest'],
    parleyArgs: ['--set', 'llm.check_interval_s=1'],
  });
  const { llm, page } = ctx;
  const notice = page.getByRole('note', { name: 'Setup needed' });
  await notice.waitFor({ timeout: 10000 });
  assert((await page.locator('#llm-fix').textContent()) === 'ollama pull mistral', 'the exact command');
  assert((await page.locator('#llm-problem').textContent()).includes('llama3.2:latest'), 'the models it has');
  await page.screenshot({ path: path.join(artifacts, 'setup-needed.png') });
  // The microphone works for a try: its meter moves with the fake microphone.
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.waitForFunction(() => Number(document.getElementById('level').value) > -60, null, { timeout: 10000 });
  // Spoken anyway, the turn fails as the note said it would.
  await page.getByRole('alert').filter({ hasText: 'LLM_FAIL' }).waitFor({ timeout: 20000 });
  // The user pulls the model: the note and the error go by themselves, and a
  // turn is answered.
  await fetch(`${llm.base}/_control/models`, { method: 'POST', body: JSON.stringify({ models: ['mistral:latest'] }) });
  await notice.waitFor({ state: 'hidden', timeout: 10000 });
  await page.getByRole('alert').waitFor({ state: 'hidden', timeout: 5000 });
  await page.getByLabel('Message').fill('Are you there?');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.assistant', { hasText: 'Now I can answer.' }).waitFor({ timeout: 15000 });
  await finish(ctx);
});

test('over https with a token: the page asks once, keeps it, speaks, and signs out', async () => {
  const certDir = path.join(tmpDir, 'tls');
  execFileSync(parleyBin, ['tls', 'self-signed', certDir]);
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'auth-'));
  const users = (...a) => execFileSync(parleyBin, ['users', ...a], { env: { ...process.env, PARLEY_DATA_DIR: dataDir }, encoding: 'utf8' });
  const token = users('add', 'ann').trim().split('\n').pop();
  const llm = await startFakeLlm();
  await llm.script([{ text: 'It is sunny and warm today.' }, { text: 'Typed over https.' }]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir, PARLEY_AUTH: 'on',
    PARLEY_TLS_CERT: path.join(certDir, 'parley.crt'), PARLEY_TLS_KEY: path.join(certDir, 'parley.key') } });
  const { browser, page, problems } = await launch(micWav('What is the weather like today?', 0.5, 12),
    { extraArgs: ['--ignore-certificate-errors'] });
  const ctx = { llm, p, browser, problems };
  await page.goto(`https://127.0.0.1:${p.port}/`);
  assert(await page.evaluate(() => window.isSecureContext), 'an https page is a secure context (the microphone needs one)');
  // The server says a token is needed: the page asks, and does not retry on its own.
  const signin = page.getByRole('region', { name: 'Sign in' });
  await signin.waitFor({ timeout: 10000 });
  await page.getByLabel('Token').fill('pt_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('not accepted').waitFor({ timeout: 10000 });
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  assert(await signin.isHidden(), 'the form goes once signed in');
  await page.getByRole('button', { name: 'Microphone' }).click();
  await page.locator('li.user', { hasText: 'weather' }).waitFor({ timeout: 20000 });
  await page.locator('li.assistant', { hasText: 'sunny' }).waitFor({ timeout: 20000 });
  await page.getByRole('button', { name: 'Microphone' }).click();
  // Kept across a reload: no second question.
  await page.reload();
  await page.getByRole('status').filter({ hasText: /^connected$/ }).waitFor({ timeout: 10000 });
  assert(await signin.isHidden(), 'no token asked after a reload');
  await page.getByLabel('Message').fill('And typed?');
  await page.getByLabel('Message').press('Enter');
  await page.locator('li.assistant', { hasText: 'Typed over https.' }).waitFor({ timeout: 15000 });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signin.waitFor({ timeout: 5000 });
  assert(await page.evaluate(() => localStorage.getItem('parley.token')) === null, 'the token is forgotten');
  await finish(ctx);
});

await run();
