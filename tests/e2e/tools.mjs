// Tools in a streaming turn, against a real MCP server nobody here wrote
// (npm's @modelcontextprotocol/server-everything over stdio): a call streamed
// as tool_call/tool_result and fed back to the model (OpenAI deltas), a
// barge-in during a slow tool, a tool deadline, a crashed server restarted,
// and a server that cannot start at all.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, run, assert, startFakeLlm, startParley, Client, makeSpeech, root, tmpDir } from './lib.mjs';

const everything = path.join(root, 'tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

function mcpConfig(name, command, args) {
  const file = path.join(tmpDir, `mcp-${name}-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    `mcp:\n  servers:\n    ${name}:\n      command: ${command}\n      args: [${args.map((a) => JSON.stringify(a)).join(', ')}]\n`,
  );
  return file;
}

const chats = (reqs) => reqs.filter((r) => r.path === '/api/chat' || r.path === '/v1/chat/completions');

async function startWithEverything(llm, extraEnv = {}) {
  const p = await startParley({
    env: { PARLEY_LLM_URL: `${llm.base}/v1`, PARLEY_LLM_PROVIDER: 'openai', ...extraEnv },
    args: ['--config', mcpConfig('everything', process.execPath, [everything, 'stdio'])],
  });
  await p.waitLog(/mcp everything: ready, \d+ tools/, 20000);
  return p;
}

test('an MCP tool call is streamed to the client and fed back to the model', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: 'Let me add those up.', tool_calls: [{ name: 'everything__get-sum', arguments: { a: 2, b: 40 } }] },
    { text: 'Two plus forty is forty-two.' },
  ]);
  const p = await startWithEverything(llm);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'What is two plus forty?' });
  const call = await c.waitFor('tool_call', () => true, 10000);
  assert(call.name === 'everything__get-sum' && call.arguments.a === 2 && call.arguments.b === 40, JSON.stringify(call));
  const result = await c.waitFor('tool_result', (m) => m.id === call.id, 10000);
  assert(!result.is_error && String(result.result).includes('42'), `result ${JSON.stringify(result)}`);
  await c.waitFor('done', (m) => m.turn === call.turn, 20000);
  const types = c.messages().map((m) => m.type);
  assert(types.indexOf('tool_call') < types.indexOf('tool_result'), 'call before result');
  // The first phrase was spoken before the tool ran, and stays spoken.
  const phrases = c.messages('tts_start').map((m) => m.text);
  assert(phrases[0] === 'Let me add those up.' && phrases.some((t) => t.includes('forty-two')), `phrases ${phrases}`);
  const reqs = chats(await llm.requests());
  assert(reqs.length === 2, `two LLM rounds, got ${reqs.length}`);
  const msgs = reqs[1].body.messages;
  const asked = msgs.find((m) => m.role === 'assistant' && m.tool_calls);
  assert(asked.tool_calls[0].id === call.id && asked.tool_calls[0].type === 'function', 'OpenAI-shaped tool_calls resent');
  assert(JSON.parse(asked.tool_calls[0].function.arguments).b === 40, 'arguments as a JSON string');
  const answered = msgs.find((m) => m.role === 'tool');
  assert(answered.tool_call_id === call.id && answered.content.includes('42'), `tool message ${JSON.stringify(answered)}`);
  assert(reqs[0].body.tools.some((t) => t.function.name === 'everything__echo'), 'MCP tools offered');
  c.close();
  await p.stop();
  llm.stop();
});

test('a barge-in during a slow MCP tool drops its result and ends the turn interrupted', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: 'This will take a moment.', tool_calls: [{ name: 'everything__trigger-long-running-operation', arguments: { duration: 6, steps: 6 } }] },
    { text: 'Stopped. What next?' },
    { text: 'The operation finished.' },
  ]);
  const p = await startWithEverything(llm);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Run the long operation.' });
  const call = await c.waitFor('tool_call', () => true, 10000);
  const t0 = Date.now();
  await c.streamAudio(makeSpeech('Stop, never mind that.'));
  const interrupted = await c.waitFor('agent_interrupted', (m) => m.turn === call.turn, 5000);
  assert(interrupted && Date.now() - t0 < 4000, 'interrupted while the tool still ran');
  const next = await c.waitFor('done', (m) => m.turn > call.turn, 20000);
  assert(next, 'the new utterance is answered');
  // The cancelled call did come back (MCP answers the cancellation), and was
  // dropped: only after that does "no tool_result" prove anything.
  await p.waitLog(new RegExp(`result of everything__trigger-long-running-operation for turn ${call.turn} came after its turn ended: dropped`), 10000);
  assert(!c.messages('tool_result').some((m) => m.turn === call.turn), 'no tool_result for the interrupted turn');
  assert(!c.messages('done').some((m) => m.turn === call.turn), 'no done for the interrupted turn');
  // The model was never asked to continue the interrupted turn.
  const reqs = chats(await llm.requests());
  assert(reqs.length === 2 && !reqs[1].body.messages.some((m) => m.role === 'tool'), `requests: ${reqs.length}`);
  c.close();
  await p.stop();
  llm.stop();
});

test('a tool past its deadline is answered with an error and the reply goes on', async () => {
  const llm = await startFakeLlm();
  await llm.script([
    { text: '', tool_calls: [{ name: 'everything__trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }] },
    { text: 'That took too long, sorry.' },
  ]);
  const p = await startWithEverything(llm, { PARLEY_TOOLS_TIMEOUT_MS: '800' });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Run the long operation.' });
  const result = await c.waitFor('tool_result', () => true, 5000);
  assert(result.is_error && JSON.stringify(result.result).includes('800'), JSON.stringify(result));
  assert(c.messages('error').some((m) => m.code === 'TOOL_FAIL'), 'TOOL_FAIL error event');
  const done = await c.waitFor('done', () => true, 10000);
  const end = c.messages('assistant_text').find((m) => m.turn === done.turn && m.status === 'end');
  assert(end.text === 'That took too long, sorry.', end.text);
  c.close();
  await p.stop();
  llm.stop();
});

test('a crashed MCP server is restarted and the session carries on', async () => {
  const llm = await startFakeLlm();
  const p = await startWithEverything(llm);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  const pids = execFileSync('pgrep', ['-P', String(p.child.pid)]).toString().trim().split(/\s+/);
  assert(pids.length >= 1, 'the MCP child runs');
  for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
  await p.waitLog(/mcp everything: .*restarting in \d+ ms/, 10000);
  // The session is unaffected while the server is down or coming back.
  await llm.script([{ text: 'Still here.' }]);
  c.send({ type: 'text', text: 'Are you there?' });
  await c.waitFor('done', (m) => m.turn === 1, 15000);
  await p.waitLog(/mcp everything: ready/, 20000, 2);
  await llm.script([{ text: '', tool_calls: [{ name: 'everything__echo', arguments: { message: 'back again' } }] }, { text: 'It echoed.' }]);
  c.send({ type: 'text', text: 'Echo something.' });
  const result = await c.waitFor('tool_result', () => true, 10000);
  assert(!result.is_error && JSON.stringify(result.result).includes('back again'), JSON.stringify(result));
  await c.waitFor('done', (m) => m.turn === 2, 15000);
  c.close();
  await p.stop();
  llm.stop();
});

test('an MCP server that cannot start is reported and retried; the rest works', async () => {
  const llm = await startFakeLlm();
  await llm.script([{ text: 'Hello.' }]);
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base },
    args: ['--config', mcpConfig('broken', '/nonexistent/mcp-server', [])],
  });
  await p.waitLog(/mcp broken: cannot start '\/nonexistent\/mcp-server'.*restarting in/, 10000, 2);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Hi' });
  await c.waitFor('done', () => true, 15000);
  const offered = chats(await llm.requests())[0].body.tools.map((t) => t.function.name);
  assert(!offered.some((n) => n.startsWith('broken__')), 'no tools from a server that is down');
  c.close();
  await p.stop();
  llm.stop();
});

test('a server that never answers does not hold up shutdown', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base },
    args: ['--config', mcpConfig('mute', process.execPath, ['-e', 'setInterval(() => {}, 1000)'])],
  });
  const t0 = Date.now();
  await p.stop(); // its initialize is still waiting for an answer
  assert(Date.now() - t0 < 6000, `stopped in ${Date.now() - t0} ms`);
  llm.stop();
});

run();
