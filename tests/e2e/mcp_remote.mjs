// Remote MCP over Streamable HTTP, against npm's server-everything started
// with its streamableHttp transport: tools listed through SSE answers and a
// session id, a call in a turn, the configured headers sent, a server that
// goes away (tools withdrawn, reconnect with back-off) and comes back with
// every session forgotten, and a bad url refused at start-up.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test, run, assert, startFakeLlm, startParley, Client, root, tmpDir, freePort } from './lib.mjs';

const everything = path.join(root, 'tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

// server-everything on PORT, behind a recording proxy on proxyPort (so the
// test sees the requests parley makes: headers, session ids, DELETE).
async function startEverything(port) {
  const child = spawn(process.execPath, [everything, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((resolve, reject) => {
    let buf = '';
    child.stderr.on('data', (d) => {
      buf += d;
      if (/listening on port/.test(buf)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`server-everything exited (${code}): ${buf}`)));
  });
  return child;
}

function startProxy(proxyPort, targetPort, seen) {
  const server = http.createServer((req, res) => {
    const entry = { method: req.method, headers: req.headers, body: '' };
    seen.push(entry);
    req.on('data', (d) => (entry.body += d));
    req.on('end', () => {
      entry.ended = true;
      if (seen.onRequest) seen.onRequest(entry);
    });
    const up = http.request({ host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(proxyPort, '127.0.0.1', () => resolve(server)));
}

// Resolves when the proxy has seen a whole request matching pred.
function seenRequest(seen, pred, what) {
  return new Promise((resolve, reject) => {
    if (seen.some((r) => r.ended && pred(r))) return resolve();
    const timer = setTimeout(() => reject(new Error(`${what} never reached the server`)), 10000);
    const before = seen.onRequest;
    seen.onRequest = (r) => {
      if (before) before(r);
      if (pred(r)) {
        clearTimeout(timer);
        seen.onRequest = before;
        resolve();
      }
    };
  });
}

function config(url) {
  const file = path.join(tmpDir, `mcp-remote-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, `mcp:\n  servers:\n    remote:\n      url: ${url}\n      headers:\n        X-Parley-Test: remote-1\n`);
  return file;
}

// The test LLM, server-everything behind the recording proxy, and parley
// configured with the proxy's url; resolves once parley lists its tools.
async function setup() {
  const llm = await startFakeLlm();
  const port = await freePort(), proxyPort = await freePort();
  const child = await startEverything(port);
  const seen = [];
  const proxy = await startProxy(proxyPort, port, seen);
  const p = await startParley({
    env: { PARLEY_LLM_URL: `${llm.base}/v1`, PARLEY_LLM_PROVIDER: 'openai' },
    args: ['--config', config(`http://127.0.0.1:${proxyPort}/mcp`)],
  });
  await p.waitLog(/mcp remote: ready, \d+ tools/, 20000);
  return { llm, port, seen, proxy, p, child };
}

test('a remote MCP server: tools over Streamable HTTP, a call in a turn, reconnect after it goes away', async () => {
  const { llm, port, seen, proxy, p, child } = await setup();
  let everythingChild = child;
  // initialize without a session; later requests carry the one it gave, the version, and our header.
  assert(seen[0].method === 'POST' && !seen[0].headers['mcp-session-id'], 'initialize opens a session');
  const later = seen.slice(1).filter((r) => r.method === 'POST');
  assert(later.length >= 2 && later.every((r) => r.headers['mcp-session-id'] && r.headers['mcp-protocol-version'] === '2025-06-18'),
    'the session id and protocol version on every later request');
  assert(seen.every((r) => r.headers['x-parley-test'] === 'remote-1'), 'the configured header on every request');
  assert(seen.every((r) => /text\/event-stream/.test(r.headers.accept)), 'SSE answers accepted');

  await llm.script([
    { text: '', tool_calls: [{ name: 'remote__get-sum', arguments: { a: 2, b: 40 } }] },
    { text: 'Forty-two.' },
  ]);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'What is two plus forty?' });
  const result = await c.waitFor('tool_result', () => true, 15000);
  assert(!result.is_error && String(result.result).includes('42'), JSON.stringify(result));
  await c.waitFor('done', (m) => m.turn === 1, 15000);
  const reqs = (await llm.requests()).filter((r) => r.path === '/v1/chat/completions');
  assert(reqs[0].body.tools.some((t) => t.function.name === 'remote__echo'), 'remote tools offered to the model');

  // The server goes away: the next call fails cleanly, the tools are withdrawn, and parley reconnects with back-off.
  everythingChild.kill('SIGKILL');
  await llm.script([
    { text: '', tool_calls: [{ name: 'remote__echo', arguments: { message: 'anyone?' } }] },
    { text: 'The tool is away.' },
  ]);
  c.send({ type: 'text', text: 'Echo something.' });
  const failed = await c.waitFor('tool_result', (m) => m.turn === 2, 15000);
  assert(failed.is_error, `a failed call is an error result: ${JSON.stringify(failed)}`);
  await c.waitFor('done', (m) => m.turn === 2, 15000);
  await p.waitLog(/mcp remote: .*reconnecting in \d+ ms/, 15000);
  // It comes back with no memory of our session: parley initializes anew.
  everythingChild = await startEverything(port);
  await p.waitLog(/mcp remote: ready/, 30000, 2);
  await llm.script([
    { text: '', tool_calls: [{ name: 'remote__echo', arguments: { message: 'back again' } }] },
    { text: 'It echoed.' },
  ]);
  c.send({ type: 'text', text: 'Echo something now.' });
  const again = await c.waitFor('tool_result', (m) => m.turn === 3, 15000);
  assert(!again.is_error && JSON.stringify(again.result).includes('back again'), JSON.stringify(again));
  await c.waitFor('done', (m) => m.turn === 3, 15000);
  c.close();
  await p.stop();
  // On the way out parley ends its session (DELETE).
  assert(seen.some((r) => r.method === 'DELETE' && r.headers['mcp-session-id']), 'the session is ended on stop');
  everythingChild.kill('SIGKILL');
  proxy.close();
  llm.stop();
});

test('a barge-in during a slow remote tool cancels the call on the server', async () => {
  const { llm, seen, proxy, p, child: everythingChild } = await setup();
  await llm.script([
    { text: 'This will take a while.', tool_calls: [{ name: 'remote__trigger-long-running-operation', arguments: { duration: 20, steps: 20 } }] },
    { text: 'Stopped.' },
  ]);
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Run the long operation.' });
  await c.waitFor('tool_call', () => true, 10000);
  // Once the call is on the server (a call cancelled before it went out is never sent)...
  await seenRequest(seen, (r) => r.body.includes('"tools/call"'), 'the tools/call POST');
  c.send({ type: 'cancel' });
  await c.waitFor('agent_interrupted', () => true, 5000);
  // ...parley tells the server the call is off (MCP's notifications/cancelled), long before its 20 s.
  await seenRequest(seen, (r) => r.body.includes('notifications/cancelled') && r.body.includes('the user interrupted'),
    'notifications/cancelled');
  assert(!c.messages('tool_result').length, 'no result of the interrupted call reaches the client');
  c.close();
  await p.stop();
  everythingChild.kill('SIGKILL');
  proxy.close();
  llm.stop();
});

test('a server given both a command and a url, or a url that is not http, is refused at start-up', async () => {
  const llm = await startFakeLlm();
  for (const [yaml, why] of [
    ['url: http://127.0.0.1:1/mcp\n      command: /bin/true', /command .* or a url/],
    ['url: ftp://example.invalid/', /http:\/\/ or https:\/\//],
  ]) {
    const file = path.join(tmpDir, `mcp-bad-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, `mcp:\n  servers:\n    x:\n      ${yaml}\n`);
    let err = null;
    try {
      await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--config', file] });
    } catch (e) {
      err = e;
    }
    assert(err && why.test(err.message), `refused: ${err && err.message.slice(-300)}`);
  }
  llm.stop();
});

await run();
