// Memory and conversations end to end: a spoken "remember …" turn that the
// model answers with a memory_save tool call, recalled in a new session's
// LLM context (keywords and vectors); a conversation resumed after a server
// restart, with an interrupted reply stored as heard; an unknown id.
import {
  test,
  run,
  assert,
  startFakeLlm,
  startParley,
  Client,
  makeSpeech,
  replyAudio,
} from './lib.mjs';

const chats = (reqs) => reqs.filter((r) => r.path === '/api/chat' || r.path === '/v1/chat/completions');

test('a spoken fact saved by a tool call is recalled in a new session', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: 'Sure.', tool_calls: [{ name: 'memory_save', arguments: { content: "The user's favourite film is Alien" } }] },
    { text: 'I will remember that your favourite film is Alien.' },
    { text: 'Your favourite film is Alien.' },
    { text: 'Alien, still.' },
  ]);
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base, PARLEY_MEMORY_EMBED_MODEL: 'test-embed' },
  });

  const a = new Client(p.url);
  await a.open();
  const readyA = await a.start();
  await a.streamAudio(makeSpeech('Remember that my favourite film is Alien.'));
  const call = await a.waitFor('tool_call', () => true, 20000);
  assert(call.name === 'memory_save' && call.arguments.content.includes('Alien'), `tool_call ${JSON.stringify(call)}`);
  const result = await a.waitFor('tool_result', (m) => m.id === call.id, 10000);
  assert(!result.is_error && result.result.saved > 0, `tool_result ${JSON.stringify(result)}`);
  await a.waitFor('done', (m) => m.turn === call.turn, 20000);
  const endA = a.messages('assistant_text').find((m) => m.turn === call.turn && m.status === 'end');
  assert(endA.text === 'Sure. I will remember that your favourite film is Alien.', `whole reply across the tool round: ${endA.text}`);
  // The continuation carried the call and its result, as Ollama expects them.
  const second = chats(await llm.requests())[1].body.messages;
  const asked = second.find((m) => m.role === 'assistant' && m.tool_calls);
  const answered = second.find((m) => m.role === 'tool');
  assert(asked.tool_calls[0].function.name === 'memory_save', 'assistant tool_calls resent');
  assert(answered.tool_name === 'memory_save' && answered.content.includes('saved'), 'tool result resent');
  // Tools were offered, built-in ones included.
  const offered = chats(await llm.requests())[0].body.tools.map((t) => t.function.name);
  for (const name of ['memory_save', 'memory_search', 'memory_forget', 'current_time', 'movies_save', 'music_list', 'projects_delete'])
    assert(offered.includes(name), `tool ${name} offered (${offered.join(',')})`);
  a.close();

  const b = new Client(p.url);
  await b.open();
  const readyB = await b.start();
  assert(readyB.conversation_id !== readyA.conversation_id, 'a new session is a new conversation');
  await b.streamAudio(makeSpeech('What is my favourite film?'));
  const doneB = await b.waitFor('done', () => true, 20000);
  const reqs = chats(await llm.requests());
  const last = reqs[reqs.length - 1].body.messages;
  assert(last.length === 2, `no history from the other conversation: ${last.length} messages`);
  assert(last[0].role === 'system' && last[0].content.includes('favourite film is Alien'), `memory in the context: ${last[0].content}`);
  assert(replyAudio(b.events, doneB.turn).samples > 16000, 'the answer was spoken');
  // The memory was embedded once, the question once.
  const embeds = (await llm.requests()).filter((r) => r.path === '/api/embed');
  assert(embeds.some((r) => r.body.input.includes('Alien')) && embeds.length >= 2, `embedding calls: ${embeds.length}`);
  // The vector side alone: no word of this question is in the memory (FTS
  // finds nothing), but "movie" embeds near "film".
  const keywords = await (await fetch(`${p.http}/v1/memories?q=${encodeURIComponent('Which movie do I like best')}`)).json();
  b.send({ type: 'text', text: 'Which movie do I like best?' });
  await b.waitFor('done', (m) => m.turn === doneB.turn + 1, 20000);
  const byMeaning = chats(await llm.requests()).at(-1).body.messages;
  assert(byMeaning[0].content.includes('favourite film is Alien'), `recalled by meaning: ${byMeaning[0].content}`);
  assert(keywords.memories.length === 1 && keywords.memories[0].content.includes('Alien'), 'the API search finds it by meaning too');
  b.close();
  await p.stop();
  llm.stop();
});

test('memory off: nothing recalled into the context', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: 'Noted.', tool_calls: [{ name: 'memory_save', arguments: { content: 'The user owns a red bicycle' } }] },
    { text: 'Saved.' },
    { text: 'I do not know.' },
  ]);
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_MEMORY_ENABLED: 'false' } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Remember that I own a red bicycle.' });
  await c.waitFor('done', (m) => m.turn === 1, 20000);
  c.send({ type: 'text', text: 'What colour is my bicycle?' });
  await c.waitFor('done', (m) => m.turn === 2, 20000);
  const reqs = chats(await llm.requests());
  assert(!reqs[reqs.length - 1].body.messages[0].content.includes('bicycle'), 'no memory block');
  c.close();
  await p.stop();
  llm.stop();
});

test('a conversation resumes after a restart, the interrupted reply stored as heard', async () => {
  const llm = await startFakeLlm();
  const story =
    'Once upon a time there was a lighthouse keeper who counted every ship that passed. ' +
    'One night a ship with no lights sailed by, and he followed it along the coast until morning. ' +
    'When the sun rose the ship was gone, and only a bottle with a letter was left on the sand.';
  await llm.script([{ text: 'Hello there.' }, { text: story, token_ms: 60 }]);
  let p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start();
  c.send({ type: 'text', text: 'Hi' });
  await c.waitFor('done', (m) => m.turn === 1, 20000);
  c.send({ type: 'text', text: 'Tell me a long story' });
  // Interrupt once the first phrase is playing.
  await c.waitUntil(() => c.events.some((e) => e.binary) && c.messages('tts_start').some((m) => m.turn === 2), 20000, 'reply audio');
  c.send({ type: 'cancel' });
  await c.waitFor('agent_interrupted', (m) => m.turn === 2, 5000);
  c.close();
  await p.stop(); // every queued write lands before exit

  p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: p.dataDir } });
  await llm.script([{ text: 'You asked for a story.' }]);
  const d = new Client(p.url);
  await d.open();
  const again = await d.start({ conversation_id: ready.conversation_id });
  assert(again.conversation_id === ready.conversation_id, 'ready names the resumed conversation');
  d.send({ type: 'text', text: 'What did I ask for?' });
  await d.waitFor('done', () => true, 20000);
  const reqs = chats(await llm.requests());
  const msgs = reqs[reqs.length - 1].body.messages.filter((m) => m.role !== 'system');
  const texts = msgs.map((m) => `${m.role}:${m.content}`);
  assert(texts[0] === 'user:Hi' && texts[1] === 'assistant:Hello there.', `history resumed: ${JSON.stringify(texts)}`);
  assert(texts[2] === 'user:Tell me a long story', `the story request: ${texts[2]}`);
  const heard = msgs[3].content;
  assert(msgs[3].role === 'assistant' && heard.length > 0 && heard.length < story.length && story.startsWith(heard.split(' ').slice(0, 3).join(' ')),
    `the interrupted reply is stored truncated: "${heard}"`);
  assert(texts[4] === 'user:What did I ask for?', 'then the new turn');
  d.close();
  await p.stop();
  llm.stop();
});

test('an unknown conversation id is an error and a fresh conversation', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  const ready = await c.start({ conversation_id: 'no-such-conversation' });
  const err = c.messages('error')[0];
  assert(err && err.code === 'NOT_FOUND' && err.recoverable, `error ${JSON.stringify(err)}`);
  assert(ready.conversation_id && ready.conversation_id !== 'no-such-conversation', 'a new id');
  c.close();
  await p.stop();
  llm.stop();
});

run();
