// Many people at once: 20 sessions in conversation with no error; past a
// capacity (forced small by config, so the test does not depend on the
// machine) new sessions get BUSY before 'ready' while the admitted ones all
// finish; arrivals past a few are paced; and bad input under load (a burst
// of connections, a 'start' flood, clients that never send) leaves the
// server alive with bounded memory.
import fs from 'node:fs';
import { test, run, assert, startFakeLlm, startParley, Client, makeSpeech, silence, concat } from './lib.mjs';

const REPLY = 'Sure. It is sunny and mild today.';
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

// n sessions opened and started one after another.
async function startSessions(url, n) {
  const sessions = [];
  for (let i = 0; i < n; i++) {
    const c = new Client(url);
    await c.open();
    await c.start();
    sessions.push(c);
  }
  return sessions;
}

// One person: speaks, waits for the whole reply, pauses, speaks again.
async function converse(url, clip, turns, pauseMs) {
  const c = new Client(url);
  await c.open();
  const ready = await c.start();
  for (let t = 0; t < turns; t++) {
    const from = c.events.length;
    await c.streamAudio(clip);
    // The microphone stays open: silence goes on until the reply is done.
    let done = null;
    const streaming = (async () => {
      while (!done && !c.closed) await c.streamAudio(silence(200));
    })();
    done = await c.waitFor('done', () => true, 90000, from);
    await streaming;
    await c.streamAudio(silence(pauseMs));
  }
  c.close();
  return { ready, errors: c.messages('error'), finals: c.messages('transcript_final').filter((m) => m.text) };
}

test('20 sessions in conversation: every turn answered, no error', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: REPLY, ttft_ms: 100, token_ms: 30 });
  // Admission is not what this test is about (a sanitizer build on two cores
  // is far slower than the product): every session is let in, and any
  // utterance that finds no decoder free waits its turn instead of failing.
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base },
    args: ['--set', 'limits.admission=fixed', '--set', 'limits.max_new_sessions_per_s=8'],
  });
  const clips = ['What is the weather like today?', 'Turn on the kitchen lights.', 'What time is it in London?'].map((t) =>
    makeSpeech(t, { padBefore: 0.2, padAfter: 0.1 }),
  );
  const people = [];
  for (let i = 0; i < 20; i++) {
    people.push(
      new Promise((r) => setTimeout(r, i * 250)).then(() => converse(p.url, clips[i % clips.length], 2, 1000 + (i % 4) * 500)),
    );
  }
  const results = await Promise.all(people);
  const errors = results.flatMap((r) => r.errors);
  assert(errors.length === 0, `no errors: ${JSON.stringify(errors.slice(0, 5))}`);
  assert(results.every((r) => r.finals.length === 2), `every turn heard: ${results.map((r) => r.finals.length)}`);
  const h = await (await fetch(`${p.http}/health`)).json();
  assert(h.load && h.load.sessions === 0 && h.load.accepting === true, JSON.stringify(h.load));
  await p.stop();
  llm.stop();
});

test('past capacity: BUSY with retry_after_ms before ready, the admitted sessions finish, HTTP 503 with Retry-After', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: REPLY, ttft_ms: 100, token_ms: 30 });
  // Capacity by config alone, so the outcome does not depend on this
  // machine's speed (limits.admission=fixed).
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base },
    args: ['--set', 'max_sessions=3', '--set', 'limits.busy_retry_ms=1500', '--set', 'limits.admission=fixed'],
  });
  const admitted = await startSessions(p.url, 3);
  // Two more: refused at 'start', before any 'ready', and closed.
  for (let i = 0; i < 2; i++) {
    const c = new Client(p.url);
    await c.open();
    c.send({ type: 'start', sample_rate: 16000, format: 'pcm_s16le' });
    const err = await c.waitFor('error', () => true, 5000);
    assert(err.code === 'BUSY' && err.recoverable === true && err.retry_after_ms === 1500, JSON.stringify(err));
    assert(/max_sessions/.test(err.message), err.message);
    await c.waitClosed();
    assert(!c.messages('ready').length, 'no ready for a refused session');
  }
  const ready = await fetch(`${p.http}/health/ready`);
  const readyJson = await ready.json();
  assert(ready.status === 503 && readyJson.ready === false && readyJson.load.sessions === 3, JSON.stringify(readyJson));
  const chat = await fetch(`${p.http}/v1/chat`, { method: 'POST', body: JSON.stringify({ text: 'hello' }) });
  assert(chat.status === 503 && chat.headers.get('retry-after') === '2', `${chat.status} ${chat.headers.get('retry-after')}`);
  assert((await chat.json()).error.code === 'BUSY', 'BUSY body');
  // The admitted ones all get whole turns.
  const clip = concat(makeSpeech('What is the weather like today?', { padBefore: 0.2, padAfter: 0.1 }), silence(1500));
  await Promise.all(admitted.map((c) => c.streamAudio(clip)));
  for (const c of admitted) {
    await c.waitFor('done', () => true, 30000);
    assert(!c.messages('error').length, JSON.stringify(c.messages('error')));
  }
  // Room again once one leaves.
  admitted[0].close();
  await admitted[0].waitClosed();
  const again = await (async () => {
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${p.http}/health/ready`);
      if (r.status === 200) return r.json();
      await new Promise((res) => setTimeout(res, 100)); // the close reaches the server
    }
    return null;
  })();
  assert(again && again.ready === true, 'ready again');
  const late = new Client(p.url);
  await late.open();
  await late.start();
  for (const c of [late, ...admitted.slice(1)]) c.close();
  await p.stop();
  llm.stop();
});

test('a burst of arrivals: the first 4 all in, then limits.max_new_sessions_per_s a second', async () => {
  const p = await startParley({ args: ['--set', 'limits.admission=fixed', '--set', 'limits.max_new_sessions_per_s=1'] });
  // A household's few sessions are never paced: four back to back all start.
  const first = await startSessions(p.url, 4);
  // With four open, at most one a second: the next, right behind, waits.
  const c = new Client(p.url);
  await c.open();
  c.send({ type: 'start', sample_rate: 16000, format: 'pcm_s16le' });
  const err = await c.waitFor('error', () => true, 5000);
  assert(err.code === 'BUSY' && err.recoverable === true && err.retry_after_ms > 0, JSON.stringify(err));
  assert(/max_new_sessions_per_s/.test(err.message), err.message);
  await c.waitClosed();
  for (const k of first) k.close();
  await p.stop();
});

test('bad input under load: a burst of connections, a start flood, silent clients; alive and bounded', async () => {
  const llm = await startFakeLlm();
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base }, args: ['--set', 'limits.start_timeout_ms=1000'] });
  const rss0 = rssMiB(p.child.pid);
  // 1000 connection attempts, 50 at a time, each closed at once.
  let opened = 0,
    refused = 0;
  for (let b = 0; b < 20; b++) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const c = new Client(p.url);
        try {
          await c.open();
          opened++;
        } catch {
          refused++;
        }
        c.close();
      }),
    );
  }
  assert(opened + refused === 1000 && opened > 0, `${opened} opened, ${refused} refused`);
  // A client that floods 'start': the first opens the session, the rest are protocol errors.
  const flood = new Client(p.url);
  await flood.open();
  for (let i = 0; i < 1000; i++) flood.send({ type: 'start', sample_rate: 16000 });
  await flood.waitUntil(() => flood.messages('error').length >= 999, 20000, '999 errors');
  assert(flood.messages('ready').length === 1 && !flood.closed, 'one session, still open');
  // Clients that connect and never send: closed after limits.start_timeout_ms.
  const silent = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = new Client(p.url);
      await c.open();
      return c;
    }),
  );
  for (const c of silent) {
    await c.waitClosed(10000);
    assert(c.messages('error')[0]?.code === 'PROTOCOL_VIOLATION', JSON.stringify(c.messages()));
  }
  // Alive: a new session still gets a whole typed turn.
  const c = new Client(p.url);
  await c.open();
  await c.start();
  c.send({ type: 'text', text: 'Still there?' });
  await c.waitFor('done', () => true, 20000);
  const rss1 = rssMiB(p.child.pid);
  assert(rss1 - rss0 < 100, `memory bounded: ${rss0.toFixed(1)} → ${rss1.toFixed(1)} MiB`);
  c.close();
  flood.close();
  await p.stop();
  llm.stop();
});

test('LLM connections are kept alive from one reply to the next', async () => {
  const llm = await startFakeLlm();
  await llm.script([], { text: 'Fine.', ttft_ms: 20, token_ms: 5 });
  const p = await startParley({ env: { PARLEY_LLM_URL: llm.base } });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  for (let i = 0; i < 3; i++) {
    const from = c.events.length;
    c.send({ type: 'text', text: `Question ${i}?` });
    await c.waitFor('done', () => true, 15000, from);
  }
  const stats = await (await fetch(`${llm.base}/_control/stats`)).json();
  assert(stats.chat_requests === 3 && stats.chat_connections === 1, JSON.stringify(stats));
  c.close();
  await p.stop();
  llm.stop();
});

await run();
