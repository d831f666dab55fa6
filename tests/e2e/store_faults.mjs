// The database when things go wrong outside parley: a disk that fills while
// turns are stored (the user is told, the conversation goes on, and nothing
// committed before is lost), and a database another process holds locked
// (a clear start-up error naming it).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test, run, assert, startFakeLlm, startParley, parleyBin, tmpDir, Client, freePort } from './lib.mjs';

const size = (f) => (fs.existsSync(f) ? fs.statSync(f).size : 0);

test('a full disk while turns are stored: STORE_FAIL, the conversation goes on, nothing committed is lost', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: 'Noted.', token_ms: 1 });
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'full-'));
  // a first run makes the database, so its size is known
  const first = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir } });
  await first.stop();
  const db = path.join(dataDir, 'parley.db');
  // Now no file may grow past 160 KiB more than the database is: the
  // write-ahead log hits it after some turns (prlimit, util-linux).
  const limit = Math.max(size(db), size(`${db}-wal`)) + 160 * 1024;
  const port = await freePort();
  const child = spawn('prlimit', [`--fsize=${limit}`, parleyBin, 'serve', '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  await new Promise((resolve, reject) => {
    const on = () => /listening on/.test(log) && (child.stderr.off('data', on), resolve());
    child.stderr.on('data', on);
    child.on('exit', (code) => reject(new Error(`parley exited ${code}: ${log}`)));
  });
  const c = new Client(`ws://127.0.0.1:${port}/ws`);
  await c.open();
  const ready = await c.start();
  const big = 'This is a long message that takes room in the database. '.repeat(120); // ~7 KB a turn
  let turn = 0;
  while (!c.messages('error').some((e) => e.code === 'STORE_FAIL') && turn < 200) {
    turn++;
    c.send({ type: 'text', text: `${turn}: ${big}` });
    await c.waitFor('done', (m) => m.turn === turn, 15000);
  }
  const fail = await c.waitFor('error', (e) => e.code === 'STORE_FAIL', 15000);
  assert(fail.recoverable && /not stored/.test(fail.message), `the user is told: ${fail.message}`);
  const failedTurn = Number(/turn (\d+) was not stored/.exec(fail.message)[1]);
  // the conversation goes on
  c.send({ type: 'text', text: 'Are you still there?' });
  await c.waitFor('done', (m) => m.turn === turn + 1, 15000);
  c.close();
  await c.waitClosed();
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('exit', (cd) => r(cd)));
  assert(code === 0, `clean exit after a full disk: ${code}\n${log.slice(-2000)}`);
  // every turn committed before the failure is there, on a disk with room
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base, PARLEY_DATA_DIR: dataDir } });
  const conv = await (await fetch(`${p.http}/v1/conversations/${ready.conversation_id}`)).json();
  const users = conv.messages.filter((m) => m.role === 'user').map((m) => Number(m.content.split(':')[0]));
  for (let t = 1; t < failedTurn; t++) assert(users.includes(t), `turn ${t} kept (failed at ${failedTurn}): ${users}`);
  assert(failedTurn > 1, `some turns were stored before the disk filled (${failedTurn})`);
  await p.stop();
  llm.stop();
});

test('a database locked by another process: start-up stops and says so', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'locked-'));
  const first = await startParley({ env: { PARLEY_DATA_DIR: dataDir } });
  await first.stop();
  const holder = new DatabaseSync(path.join(dataDir, 'parley.db'));
  holder.exec('BEGIN IMMEDIATE');
  const child = spawn(parleyBin, ['serve', '--listen', `127.0.0.1:${await freePort()}`], {
    env: { ...process.env, PARLEY_DATA_DIR: dataDir },
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.on('exit', r));
  holder.exec('ROLLBACK');
  holder.close();
  assert(code !== 0 && /is locked by another process/.test(err) && err.includes(path.join(dataDir, 'parley.db')),
    `a clear error: ${code} ${err.slice(-500)}`);
  // once the other process lets go, parley starts
  const again = await startParley({ env: { PARLEY_DATA_DIR: dataDir } });
  await again.stop();
});

await run();
