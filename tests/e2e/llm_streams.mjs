// Real LLM servers are untidier than a tidy test server: bytes cut anywhere
// (inside a line, inside a UTF-8 character), \r\n, SSE comments, null
// contents, usage chunks with no choices, tool calls interleaved with their
// names in pieces, errors inside an open stream, and thinking models that
// reason before they answer. Each runs against both wire formats where it
// applies; and a barge-in or cancel must really close the request.
import { test, run, assert, startFakeLlm, startParley, Client } from './lib.mjs';

let llm;
const flavours = {
  ollama: () => ({ PARLEY_LLM_URL: llm.base }),
  openai: () => ({ PARLEY_LLM_PROVIDER: 'openai', PARLEY_LLM_URL: `${llm.base}/v1`, PARLEY_LLM_MODEL: 'gpt-test' }),
};

async function session(flavour, env = {}) {
  const p = await startParley({ env: { ...flavours[flavour](), ...env } });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  return { p, c, ready };
}

const stats = async () => (await fetch(`${llm.base}/_control/stats`)).json();
const stored = async (p, id) => (await fetch(`${p.http}/v1/conversations/${id}`)).json();

for (const flavour of Object.keys(flavours)) {
  test(`${flavour}: an untidy stream of accents, CJK and emoji arrives whole`, async () => {
    await llm.reset();
    const reply = 'Voilà, naïve café: 東京は晴れです。 Enjoy 🌞 and 👍🏽 today.';
    await llm.script([{ text: reply, untidy: true, seed: 3, token_ms: 5 }]);
    const { p, c } = await session(flavour);
    c.send({ type: 'text', text: 'Weather in Tōkyō?' });
    const done = await c.waitFor('done', () => true, 20000);
    const end = c.messages('assistant_text').find((m) => m.status === 'end');
    assert(end && end.text === reply, `whole: ${end && end.text}`);
    assert(!c.messages('error').length && !c.closed, `no error: ${JSON.stringify(c.messages('error'))}`);
    assert(done.turn === 1, 'one turn');
    c.close();
    await p.stop();
  });

  test(`${flavour}: a thinking model reasons past the first-token timeout, and its reasoning is neither spoken nor stored`, async () => {
    await llm.reset();
    const thinking = 'The user asks about rain. I should check what I know, then answer briefly and kindly. '.repeat(2);
    await llm.script([{ thinking, thinking_ms: 60, text: 'No rain today.', untidy: flavour === 'openai' }]);
    const { p, c, ready } = await session(flavour, { PARLEY_LLM_FIRST_TOKEN_TIMEOUT_MS: '1000' });
    c.send({ type: 'text', text: 'Will it rain?' });
    await c.waitFor('thinking', (m) => m.turn === 1, 5000);
    await c.waitFor('done', () => true, 20000);
    assert(!c.messages('error').some((e) => e.code === 'LLM_TIMEOUT'), `no LLM_TIMEOUT: ${JSON.stringify(c.messages('error'))}`);
    const end = c.messages('assistant_text').find((m) => m.status === 'end');
    assert(end.text === 'No rain today.', `the answer alone: ${end.text}`);
    assert(!c.messages('tts_start').some((m) => /rain\. I should/.test(m.text)), 'reasoning not spoken');
    c.close();
    await c.waitClosed();
    const conv = await stored(p, ready.conversation_id);
    assert(!JSON.stringify(conv).includes('I should check'), 'reasoning not stored');
    if (flavour === 'ollama') {
      const body = (await llm.requests()).filter((r) => r.path === '/api/chat').at(-1).body;
      assert(body.think === false, `voice asks Ollama not to think (llm.think off): ${JSON.stringify(body.think)}`);
    }
    await p.stop();
  });

  test(`${flavour}: an error object inside an open stream is LLM_FAIL, and what came before it is kept`, async () => {
    await llm.reset();
    await llm.script([{ text: 'Part of an answer that breaks.', mode: 'stream_error', after_tokens: 3, error: 'out of memory on the GPU' }]);
    const { p, c } = await session(flavour);
    c.send({ type: 'text', text: 'Tell me.' });
    const e = await c.waitFor('error', (m) => m.code === 'LLM_FAIL', 15000);
    assert(/out of memory on the GPU/.test(e.message) && e.recoverable, e.message);
    await c.waitFor('done', () => true, 15000);
    const end = c.messages('assistant_text').find((m) => m.status === 'end');
    assert(end && end.text.startsWith('Part of an'), `kept: ${end && end.text}`);
    c.close();
    await p.stop();
  });
}

test('openai: tool-call deltas spread over 1.6 s are progress, not a first-token timeout', async () => {
  await llm.reset();
  await llm.script([
    { text: '', tool_calls: [{ name: 'current_time', arguments: { timezone: 'Europe/Paris' } }], tool_ms: 200 },
    { text: 'It is noon.' },
  ]);
  const { p, c } = await session('openai', { PARLEY_LLM_FIRST_TOKEN_TIMEOUT_MS: '1000' });
  c.send({ type: 'text', text: 'What time is it in Paris?' });
  await c.waitFor('tool_result', () => true, 15000);
  await c.waitFor('done', () => true, 15000);
  assert(!c.messages('error').length, `no error: ${JSON.stringify(c.messages('error'))}`);
  c.close();
  await p.stop();
});

test('openai: parallel tool calls, interleaved, with names in pieces and null contents', async () => {
  await llm.reset();
  await llm.script([
    { text: 'Let me do both.', untidy: true, seed: 11, tool_calls: [
      { name: 'memory_save', arguments: { content: 'The user likes jasmine tea' } },
      { name: 'current_time', arguments: {} },
    ] },
    { text: 'Saved, and it is noon.' },
  ]);
  const { p, c } = await session('openai');
  c.send({ type: 'text', text: 'Remember I like jasmine tea, and tell me the time.' });
  await c.waitUntil(() => c.messages('tool_result').length === 2, 15000, 'two tool results');
  const names = c.messages('tool_call').map((m) => m.name).sort();
  assert(names.join() === 'current_time,memory_save', `both calls, names whole: ${names}`);
  assert(c.messages('tool_result').every((m) => !m.is_error), JSON.stringify(c.messages('tool_result')));
  const saved = c.messages('tool_call').find((m) => m.name === 'memory_save');
  assert(saved.arguments.content === 'The user likes jasmine tea', `arguments joined: ${JSON.stringify(saved.arguments)}`);
  await c.waitFor('done', () => true, 15000);
  c.close();
  await p.stop();
});

test('cancel and barge-in close the LLM request (the server sees the disconnect)', async () => {
  await llm.reset();
  await llm.script([{ text: 'A very long answer. '.repeat(60), token_ms: 50 }]);
  const { p, c } = await session('ollama');
  const before = (await stats()).disconnects;
  c.send({ type: 'text', text: 'Talk for a while.' });
  await c.waitFor('assistant_text', (m) => m.status === 'chunk', 10000);
  c.send({ type: 'cancel' });
  await c.waitFor('agent_interrupted', () => true, 5000);
  for (let i = 0; i < 200 && (await stats()).disconnects === before; i++)
    await new Promise((r) => setTimeout(r, 25)); // polls the test server, bounded
  assert((await stats()).disconnects === before + 1, 'the request was aborted, not left streaming');
  c.close();
  await p.stop();
});

llm = await startFakeLlm();
await run();
