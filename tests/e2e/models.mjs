// The model manager against a local HTTP server standing in for Hugging Face
// (models.url): a pull with a progress bar on a terminal and plain lines
// otherwise, a transfer cut off and resumed with a Range request, a checksum
// mismatch, an unwritable directory and a full disk (a file-size limit), and
// the server picking up the pulled Silero model on its own.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Skip, test, run, assert, parleyBin, root, tmpDir, startParley } from './lib.mjs';

const shared = path.resolve(root, '../shared/data');
const silero = fs.readFileSync(path.join(shared, 'silero-v6.2.0-ggml.bin'));
const notTiny = fs.readFileSync(path.join(shared, 'whisper-for-tests-tiny.en.bin')); // not the published tiny.en
const sha1 = (b) => crypto.createHash('sha1').update(b).digest('hex');

// Serves the files with Range support, in 64 KiB chunks; dropAfter cuts the
// next response off after that many bytes.
function startModelServer() {
  const state = { ranges: [], dropAfter: 0 };
  const files = {
    '/ggml-org/whisper-vad/resolve/main/ggml-silero-v6.2.0.bin': silero,
    '/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin': notTiny,
  };
  const server = http.createServer(async (req, res) => {
    const body = files[req.url];
    if (!body) {
      res.writeHead(404);
      return res.end('not found');
    }
    const m = /bytes=(\d+)-/.exec(req.headers.range || '');
    const from = m ? Number(m[1]) : 0;
    state.ranges.push(req.headers.range || null);
    if (from >= body.length) {
      res.writeHead(416);
      return res.end();
    }
    res.writeHead(m ? 206 : 200, {
      'Content-Length': body.length - from,
      ...(m ? { 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    const drop = state.dropAfter;
    state.dropAfter = 0;
    for (let off = from; off < body.length; off += 65536) {
      const end = Math.min(off + 65536, body.length);
      if (drop && end - from > drop) {
        res.write(body.subarray(off, from + drop));
        await new Promise((r) => setTimeout(r, 50)); // let it reach the client first
        return res.socket.destroy();
      }
      if (!res.write(body.subarray(off, end))) await new Promise((r) => res.once('drain', r));
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ state, url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })),
  );
}

// Runs parley models … asynchronously (the model server lives in this process).
function models(args, env, { tty = false, shell = null } = {}) {
  return new Promise((resolve) => {
    const cmd = [parleyBin, 'models', ...args].map((a) => `'${a}'`).join(' ');
    const argv = tty ? ['script', ['-qec', cmd, '/dev/null']] : shell ? ['sh', ['-c', `${shell}; exec ${cmd}`]] : [parleyBin, ['models', ...args]];
    const child = spawn(argv[0], argv[1], { env: { ...process.env, ...env } });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('pull with a progress bar on a terminal; list and path see it', async () => {
  const srv = await startModelServer();
  const data = fs.mkdtempSync(path.join(tmpDir, 'models-'));
  const env = { PARLEY_DATA_DIR: data, PARLEY_MODELS_URL: srv.url };
  const before = await models(['path', 'silero-v6.2.0'], env);
  assert(before.code === 1 && before.err.includes('parley models pull silero-v6.2.0'), before.err);
  const r = await models(['pull', 'silero-v6.2.0'], env, { tty: true });
  assert(r.code === 0, `pull: ${r.code} ${r.out}${r.err}`);
  assert(r.out.includes('\r') && /\[#+\] 100%/.test(r.out) && r.out.includes('verified'), `a bar redrawn in place: ${JSON.stringify(r.out.slice(-300))}`);
  const file = path.join(data, 'models/silero-v6.2.0-ggml.bin');
  assert(sha1(fs.readFileSync(file)) === '470e5d9d094ddba2f0a512cecc3732a252188abd', 'the file is whole');
  assert(!fs.existsSync(file + '.part'), 'no partial file left');
  const p = await models(['path', 'silero-v6.2.0'], env);
  assert(p.code === 0 && p.out.trim() === file, p.out);
  const list = await models(['list'], env);
  assert(/silero-v6\.2\.0\s.*\syes\s/.test(list.out) && /base\.en\s.*\sno\s/.test(list.out), list.out);
  const again = await models(['pull', 'silero-v6.2.0'], env);
  assert(again.code === 0 && again.err.includes('already present') && srv.state.ranges.length === 1, 'not downloaded twice');

  // The server finds the model on its own and uses Silero (vad.engine: auto).
  const s = await startParley({ env: { PARLEY_DATA_DIR: data } });
  assert(/VAD: silero/.test(s.log()), s.log());
  await s.stop();
  srv.close();
});

test('a transfer cut off is resumed with a Range request; plain progress lines off a terminal', async () => {
  const srv = await startModelServer();
  const data = fs.mkdtempSync(path.join(tmpDir, 'models-'));
  const env = { PARLEY_DATA_DIR: data, PARLEY_MODELS_URL: srv.url };
  srv.state.dropAfter = 300000;
  const cut = await models(['pull', 'silero-v6.2.0'], env);
  const part = path.join(data, 'models/silero-v6.2.0-ggml.bin.part');
  assert(cut.code === 1 && cut.err.includes('pull again to resume'), `${cut.code} ${cut.err}`);
  const have = fs.statSync(part).size;
  assert(have > 0 && have <= 300000, `partial file of ${have} bytes`);
  assert(!fs.existsSync(part.replace('.part', '')), 'nothing under the final name');
  const r = await models(['pull', 'silero-v6.2.0'], env);
  assert(r.code === 0 && r.err.includes('resuming'), r.err);
  assert(srv.state.ranges[1] === `bytes=${have}-`, `resumed from ${have}: ${srv.state.ranges}`);
  assert(!r.err.includes('\r') && /silero-v6\.2\.0: 100% \(/.test(r.err), `plain lines: ${r.err}`);
  assert(sha1(fs.readFileSync(part.replace('.part', ''))) === sha1(silero), 'whole after resuming');
  srv.close();
});

test('a checksum mismatch, an unwritable directory and a full disk are reported', async () => {
  const srv = await startModelServer();
  const data = fs.mkdtempSync(path.join(tmpDir, 'models-'));
  const env = { PARLEY_DATA_DIR: data, PARLEY_MODELS_URL: srv.url };
  const bad = await models(['pull', 'tiny.en'], env);
  assert(bad.code === 1 && bad.err.includes('checksum mismatch') && bad.err.includes('c78c86eb1a8faa21b369bcd33207cc90d64ae9df'), bad.err);
  assert(fs.readdirSync(path.join(data, 'models')).length === 0, 'the corrupt download is gone');

  const file = path.join(tmpDir, `not-a-dir-${Date.now()}`);
  fs.writeFileSync(file, 'x');
  const unwritable = await models(['pull', 'silero-v6.2.0'], { ...env, PARLEY_DATA_DIR: path.join(file, 'data') });
  assert(unwritable.code === 1 && unwritable.err.includes('cannot create'), unwritable.err);

  // A 100 KiB file-size limit stands in for a full disk.
  const full = await models(['pull', 'silero-v6.2.0'], env, { shell: 'ulimit -f 100' });
  assert(full.code === 1 && full.err.includes('disk is full'), `${full.code} ${full.err}`);
  const missing = await models(['pull', 'large-v9'], env);
  assert(missing.code === 2 && missing.err.includes('parley models list'), missing.err);
  const gone = await models(['pull', 'silero-v6.2.0'], { ...env, PARLEY_MODELS_URL: `${srv.url}/nothing-here` });
  assert(gone.code === 1 && gone.err.includes('HTTP 404'), gone.err);
  srv.close();
});

test('the Whisper engine in a session; a missing model stops start-up with the command that fetches it', async () => {
  if (process.env.PARLEY_HAVE_WHISPER === '0') throw new Skip('this build has no whisper.cpp');
  const data = fs.mkdtempSync(path.join(tmpDir, 'models-'));
  const missing = spawnSync(parleyBin, ['serve', '--listen', '127.0.0.1:1'], {
    env: { ...process.env, PARLEY_DATA_DIR: data, PARLEY_ASR: 'whisper', STREAM_MODEL_WHISPER: 'base.en' },
    encoding: 'utf8',
  });
  assert(missing.status !== 0 && missing.stderr.includes('parley models pull base.en'), missing.stderr);
  // whisper.cpp's structure-valid test model: it runs, its words mean nothing.
  const { startFakeLlm, Client, makeSpeech } = await import('./lib.mjs');
  const llm = await startFakeLlm();
  // The untrained model's decodes are slow and of any length: under a busy
  // machine (ctest -j2 beside Chromium) the default 5 s wait for the final is
  // not what this test is about.
  const p = await startParley({
    env: { PARLEY_LLM_URL: llm.base, PARLEY_ASR: 'whisper', STREAM_MODEL_WHISPER: path.join(shared, 'whisper-for-tests-tiny.en.bin') },
    args: ['--set', 'asr.final_timeout_ms=30000'],
  });
  const c = new Client(p.url);
  await c.open();
  await c.start();
  await c.streamAudio(makeSpeech('Turn on the kitchen lights.'));
  const final = await c.waitFor('transcript_final', () => true, 20000);
  assert(final.turn === 1 && typeof final.text === 'string', JSON.stringify(final));
  assert(!c.messages('error').some((m) => m.code.startsWith('ASR')), JSON.stringify(c.messages('error')));
  c.close();
  await p.stop();
  llm.stop();
});

run();
