// Continuous profiling end to end: `node -r allocscope/register` children uploading to S3 and to flaky, hanging or absent HTTP servers, the spool, bad settings.
'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { decode } = require('../../dist/index.js');
const { startS3rver } = require('../support/s3');
const { startIngestServer } = require('../support/ingest-server');
const { missingTool } = require('../support/tools');

const REGISTER = require.resolve('../../dist/register.js');
const APP = path.join(__dirname, '..', 'fixtures', 'continuous', 'app.js');
const SERVICE = 'contapp';
const PER_PERIOD_COMMENT = /^alloc_objects and alloc_space are per period: allocations since \S+ only \(delta profile\)$/;

/** tempDir makes a directory removed when the test ends. */
function tempDir(t, prefix = 'allocscope-continuous-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** childEnv is this process's environment without ALLOCSCOPE_* settings, plus the test's. */
function childEnv(spool, extra) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ALLOCSCOPE_')));
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ALLOCSCOPE_SERVICE: SERVICE, ALLOCSCOPE_SPOOL: spool, ...extra };
}

/**
 * startApp runs `node -r dist/register.js app.js ...args`; returns { child, ready, exited, out() }:
 * `ready` resolves to Date.now() when stdout says ready, `exited` to { status, signal, atMs }.
 * The child is killed if the test ends first.
 */
function startApp(t, args, env, options = {}) {
  const child = spawn(process.execPath, ['-r', REGISTER, APP, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (status, signal) => resolve({ status, signal, atMs: Date.now() })));
  // 'close' waits for the pipes as well, so out() is complete once `exited` resolved.
  const closed = new Promise((resolve) => child.on('close', resolve));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      if (stdout.includes('ready')) resolve(Date.now());
    });
    child.on('exit', () => reject(new Error(`the app exited before ready: ${stderr}`)));
  });
  ready.catch(() => undefined);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, ready, exited: exited.then(async (result) => (await closed, result)), out: () => ({ stdout, stderr }) };
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** readSpool reads every file under the spool: `.spool` entries parsed as <u32 length><JSON header><profile>, and claimed leftovers. */
function readSpool(dir) {
  const entries = [];
  const claimed = [];
  for (const sub of fs.readdirSync(dir)) {
    const subDir = path.join(dir, sub);
    if (!fs.statSync(subDir).isDirectory()) continue;
    for (const name of fs.readdirSync(subDir)) {
      if (/\.spool\.claimed-\d+$/.test(name)) claimed.push(name);
      if (!name.endsWith('.spool')) continue;
      const entry = fs.readFileSync(path.join(subDir, name));
      const length = entry.readUInt32BE(0);
      const header = JSON.parse(entry.subarray(4, 4 + length).toString('utf8'));
      entries.push({ name, header, bytes: entry.subarray(4 + length) });
    }
  }
  return { entries, claimed };
}

/** sequencesOf the entries of one kind, sorted. */
function sequencesOf(entries, heap) {
  return entries.filter((e) => e.header.heap === heap).map((e) => e.header.sequence).sort((a, b) => a - b);
}

const oneTo = (n) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * assertPeriodCount: with period 1 s, a recorder that lived `lifetimeMs` takes floor(lifetime)
 * periodic profiles plus the final one; timers late on a busy machine may cost one.
 */
function assertPeriodCount(count, lifetimeMs, what) {
  const expected = Math.floor(lifetimeMs / 1000) + 1;
  assert.ok(Math.abs(count - expected) <= 1, `${what}: ${count} profiles over ${lifetimeMs} ms, expected ${expected} ± 1`);
}

/**
 * assertNativeChain: native profiles carry alloc values per period, each since the previous
 * profile: sorted by time, each one's duration reaches back exactly to the previous one's time,
 * so a missing period would show as a gap. Returns the time they cover, in ms.
 */
function assertNativeChain(profiles) {
  const sorted = [...profiles].sort((a, b) => (a.timeNanos < b.timeNanos ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    assert.equal(BigInt(sorted[i].durationNanos), sorted[i].timeNanos - sorted[i - 1].timeNanos, `native profile ${i + 1} does not start where profile ${i} ended`);
  }
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  return Number(last.timeNanos - (first.timeNanos - BigInt(first.durationNanos))) / 1e6;
}

describe('continuous profiling with -r allocscope/register', { timeout: 120_000 }, () => {
  it('uploads one heap and one native object per period, plus the final pair, to S3', { timeout: 60_000 }, async (t) => {
    const s3 = await startS3rver();
    t.after(() => s3.close());
    const app = startApp(t, ['3.5'], childEnv(tempDir(t), {
      ...s3.env, ALLOCSCOPE_UPLOAD: 's3://profiles/team', ALLOCSCOPE_PERIOD: '1', ALLOCSCOPE_LABELS: 'env=test, region=eu-1',
    }));
    const readyAt = await app.ready;
    const { status, signal } = await app.exited;
    const { stdout, stderr } = app.out();
    assert.equal(status, 0, `signal ${signal}, stderr: ${stderr}`);
    assert.match(stdout, /^ready\napp done after \d+ rounds\n$/);
    assert.doesNotMatch(stderr, /allocscope:/, 'no delivery problem reported');

    const pid = app.child.pid;
    const host = os.hostname().replace(/[/\\\x00-\x1f\x7f]/g, '-').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const keyPattern = new RegExp(`^team/${SERVICE}/(heap|native|handles)/(\\d{4})/(\\d\\d)/(\\d\\d)/((\\d{4})-(\\d\\d)-(\\d\\d)T\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z)-${host}-${pid}-(\\d{4})\\.pb\\.gz$`);
    const objects = await s3.listObjects('profiles');
    const byKind = { heap: [], native: [], handles: [] };
    for (const object of objects) {
      const match = keyPattern.exec(object.key);
      assert.ok(match, `unexpected key ${object.key}`);
      const [, kind, year, month, day, stamp, stampYear, stampMonth, stampDay, sequence] = match;
      assert.deepEqual([year, month, day], [stampYear, stampMonth, stampDay], `${object.key}: dated by its own time`);
      assert.equal(object.metadata.end, stamp.replace(/T(\d\d)-(\d\d)-/, 'T$1:$2:'), `${object.key}: named by the end of its period`);
      assert.equal(object.metadata.env, 'test');
      assert.equal(object.metadata.region, 'eu-1');
      assert.equal(object.metadata.service, SERVICE);
      assert.equal(object.metadata.heap, kind === 'heap' ? 'js' : kind);
      assert.equal(object.metadata.pid, String(pid));
      byKind[kind].push({ ...object, sequence: Number(sequence), startMs: Date.parse(object.metadata.start), endMs: Date.parse(object.metadata.end) });
    }
    for (const list of Object.values(byKind)) list.sort((a, b) => a.sequence - b.sequence);
    const { heap, native, handles } = byKind;
    assert.ok(heap.length >= 3, `${heap.length} heap objects`);
    assert.equal(native.length, heap.length, 'as many native objects as heap objects');
    assert.equal(handles.length, heap.length, 'and a handle count beside each pair');
    // Every period once: sequences 1..N without gap or repeat, each period starting where the last ended.
    assert.deepEqual(heap.map((o) => o.sequence), oneTo(heap.length));
    assert.deepEqual(native.map((o) => o.sequence), oneTo(native.length));
    for (let i = 0; i < heap.length; i++) {
      assert.deepEqual([native[i].startMs, native[i].endMs], [heap[i].startMs, heap[i].endMs], `pair ${i + 1} covers one period`);
      if (i > 0) assert.equal(heap[i].startMs, heap[i - 1].endMs, `period ${i + 1} starts where ${i} ended`);
      if (i < heap.length - 1) {
        const length = heap[i].endMs - heap[i].startMs;
        assert.ok(length >= 950 && length < 5000, `periodic profile ${i + 1} covers ${length} ms`);
      }
    }
    assertPeriodCount(heap.length, heap[heap.length - 1].endMs - heap[0].startMs, 'heap');
    // The final pair is taken when the app ends, 3.5 s after it said ready.
    assert.ok(heap[heap.length - 1].endMs >= readyAt + 3500 - 250, 'the last pair is the one taken at exit');

    const files = [];
    const dir = tempDir(t);
    for (const object of [...heap, ...native]) {
      const bytes = await s3.getObject('profiles', object.key);
      assert.equal(bytes.length, object.size);
      const profile = decode(bytes);
      if (object.metadata.heap === 'native') {
        assert.ok(profile.comments.some((c) => PER_PERIOD_COMMENT.test(c)), `${object.key} says its alloc values are per period: ${profile.comments.join(' | ')}`);
        object.profile = profile;
      }
      const file = path.join(dir, `${files.length}.pb.gz`);
      fs.writeFileSync(file, bytes);
      files.push({ file, key: object.key });
    }
    assertNativeChain(native.map((o) => o.profile));

    await t.test('go tool pprof -raw reads every object', (st) => {
      if (missingTool(st, 'go', ['version'])) return;
      for (const { file, key } of files) {
        const run = spawnSync('go', ['tool', 'pprof', '-raw', file], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(run.status, 0, `${key}: ${run.stderr}`);
        assert.equal(run.stderr, '', key);
        assert.match(run.stdout, /^Samples:$/m, key);
      }
    });
  });

  it('delivers every period exactly once through a Pyroscope ingest that fails with 503, hangs and resets first', { timeout: 60_000 }, async (t) => {
    const server = await startIngestServer();
    t.after(() => server.close());
    const answers = [];
    const script = ['503', '503', '503', 'hang', 'reset'];
    server.script((index) => {
      const answer = index < script.length ? script[index] : 'ok';
      answers[index] = answer;
      return /^\d+$/.test(answer) ? Number(answer) : answer;
    });
    const spool = tempDir(t);
    const app = startApp(t, ['4'], childEnv(spool, {
      ALLOCSCOPE_UPLOAD: `${server.url}/ingest`, ALLOCSCOPE_UPLOAD_TIMEOUT: '0.5', ALLOCSCOPE_PERIOD: '1', ALLOCSCOPE_LABELS: 'env=test',
    }));
    const { status, signal } = await app.exited;
    const { stdout, stderr } = app.out();
    assert.equal(status, 0, `signal ${signal}, stderr: ${stderr}`);
    assert.match(stdout, /^ready\napp done after \d+ rounds\n$/);
    assert.ok(server.requests.length > script.length, `the scripted failures were all met: ${server.requests.length} requests`);
    assert.match(stderr, /HTTP 503/);
    assert.match(stderr, /no answer within the time limit/);

    const delivered = { js: [], native: [], handles: [] };
    server.requests.forEach((request, index) => {
      const match = new RegExp(`^${SERVICE}\\{__delta__=false,heap=(js|native|handles),env=test\\}$`).exec(request.query.name);
      assert.ok(match, `request ${index}: name ${request.query.name}`);
      assert.equal(request.query.format, 'pprof');
      assert.ok(Number(request.query.until) > Number(request.query.from), `request ${index}: from < until`);
      if (answers[index] === 'ok') delivered[match[1]].push(request);
    });
    for (const [kind, requests] of Object.entries(delivered)) {
      const hashes = requests.map((r) => sha256(r.body));
      assert.equal(new Set(hashes).size, hashes.length, `no ${kind} profile answered 200 twice`);
    }
    // Whatever was tried and failed was delivered later.
    const deliveredHashes = new Set(Object.values(delivered).flat().map((r) => sha256(r.body)));
    server.requests.forEach((request, index) => {
      assert.ok(deliveredHashes.has(sha256(request.body)), `request ${index} (answered ${answers[index]}) was delivered at last`);
    });
    assert.ok(delivered.js.length >= 3, `${delivered.js.length} JS heap profiles`);
    assert.equal(delivered.native.length, delivered.js.length, 'as many native profiles as JS heap profiles');
    assert.equal(delivered.handles.length, delivered.js.length, 'and handle counts');
    const natives = delivered.native.map((r) => decode(r.body));
    for (const profile of natives) assert.ok(profile.comments.some((c) => PER_PERIOD_COMMENT.test(c)));
    assertPeriodCount(delivered.native.length, assertNativeChain(natives), 'native');
    assert.deepEqual(readSpool(spool), { entries: [], claimed: [] }, 'nothing left in the spool');
  });

  it("compresses its periodic profiles without a zlib stream of the application's (no ZLIB async resource)", { timeout: 30_000 }, async (t) => {
    // zlib.gzip's Gzip stream runs Node's stream code, which the application's sockets share:
    // a collection must not (see native/format/gzip-worker.h). Every zlib stream is a ZLIB
    // async resource; the child counts them while three periods are collected, then makes one
    // itself to show that the count sees them.
    const out = tempDir(t);
    const probe = `
      const { createHook } = require('node:async_hooks');
      let zlibResources = 0;
      createHook({ init(id, type) { if (type === 'ZLIB') zlibResources += 1; } }).enable();
      const kept = [];
      const timer = setInterval(() => { kept.push(Buffer.alloc(64 * 1024)); if (kept.length > 64) kept.shift(); }, 5);
      setTimeout(() => {
        const during = zlibResources;
        require('node:zlib').gzip(Buffer.alloc(10), () => {
          console.log(JSON.stringify({ during, after: zlibResources }));
          clearInterval(timer);
        });
      }, 3500);`;
    const child = spawnSync(process.execPath, ['-r', REGISTER, '-e', probe], {
      env: childEnv(path.join(out, 'spool'), { ALLOCSCOPE_UPLOAD: path.join(out, 'profiles'), ALLOCSCOPE_PERIOD: '1' }), encoding: 'utf8', timeout: 25_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const counts = JSON.parse(child.stdout.trim().split('\n').at(-1));
    assert.deepEqual(counts, { during: 0, after: 1 });
    const periodic = fs.readdirSync(path.join(out, 'profiles')).filter((name) => name.endsWith('.native.pb.gz'));
    assert.ok(periodic.length >= 3, `expected 3 periods or more collected, found ${periodic.join(', ')}`);
    for (const name of periodic) assert.ok(decode(fs.readFileSync(path.join(out, 'profiles', name))).samples.length > 0, `${name} has no samples`);
  });

  describe('SIGTERM while the destination hangs', () => {
    // termWhileHanging runs the app against a server that never answers and sends it SIGTERM
    // after a period and a half.
    async function termWhileHanging(t, argv, flushTimeout) {
      const server = await startIngestServer({ behaviour: 'hang' });
      t.after(() => server.close());
      const spool = tempDir(t);
      const app = startApp(t, argv, childEnv(spool, {
        ALLOCSCOPE_UPLOAD: `${server.url}/ingest`, ALLOCSCOPE_PERIOD: '1', ALLOCSCOPE_FLUSH_TIMEOUT: flushTimeout,
      }));
      await app.ready;
      await sleep(1500);
      const termAt = Date.now();
      app.child.kill('SIGTERM');
      const { status, signal, atMs } = await app.exited;
      return { server, spool, app, termAt, status, signal, elapsed: atMs - termAt };
    }

    it('waits ALLOCSCOPE_FLUSH_TIMEOUT, dies by SIGTERM, and leaves the last profiles in the spool', { timeout: 30_000 }, async (t) => {
      const { server, spool, app, termAt, status, signal, elapsed } = await termWhileHanging(t, ['wait'], '2');
      assert.equal(signal, 'SIGTERM', `status ${status}, stderr: ${app.out().stderr}`);
      assert.ok(elapsed >= 1500, `waited for the flush (${elapsed} ms)`);
      assert.ok(elapsed < 4500, `exited ${elapsed} ms after SIGTERM, flush timeout 2 s`);
      assert.ok(server.requests.length >= 1, 'an upload was attempted');
      assertLastProfilesSpooled(spool, app.child.pid, termAt);
    });

    it("exits at once with the app's own status when its SIGTERM handler calls process.exit(0), spooling the last profiles", { timeout: 30_000 }, async (t) => {
      const { spool, app, termAt, status, signal, elapsed } = await termWhileHanging(t, ['wait', 'exit-on-term'], '5');
      assert.equal(status, 0, `signal ${signal}, stderr: ${app.out().stderr}`);
      assert.match(app.out().stdout, /app handled SIGTERM/);
      assert.ok(elapsed < 2500, `exited ${elapsed} ms after SIGTERM: process.exit() leaves no time for a flush`);
      assertLastProfilesSpooled(spool, app.child.pid, termAt);
    });
  });

  it('keeps profiles in the spool while the destination is down and delivers them from the next process', { timeout: 60_000 }, async (t) => {
    const server = await startIngestServer({ behaviour: 503 });
    t.after(() => server.close());
    const spool = tempDir(t);
    // A plain-HTTP destination (no /ingest): requests carry X-Allocscope-Pid.
    const env = childEnv(spool, { ALLOCSCOPE_UPLOAD: `${server.url}/profiles`, ALLOCSCOPE_PERIOD: '1', ALLOCSCOPE_FLUSH_TIMEOUT: '1' });

    const first = startApp(t, ['2.5'], env);
    const firstExit = await first.exited;
    assert.equal(firstExit.status, 0, first.out().stderr);
    assert.match(first.out().stderr, /HTTP 503/);
    const firstPid = String(first.child.pid);
    const spooled = readSpool(spool);
    assert.deepEqual(spooled.claimed, [], 'no claims left behind');
    assert.ok(spooled.entries.length >= 2, `${spooled.entries.length} spooled`);
    for (const entry of spooled.entries) assert.equal(String(entry.header.pid), firstPid, entry.name);
    const jsSequences = sequencesOf(spooled.entries, 'js');
    assert.ok(jsSequences.length >= 2, `${jsSequences.length} JS heap profiles spooled`);
    assert.deepEqual(jsSequences, oneTo(jsSequences.length), 'every JS heap profile of the run is spooled');
    assert.deepEqual(sequencesOf(spooled.entries, 'native'), jsSequences, 'and every native one');
    const spooledHashes = spooled.entries.map((e) => sha256(e.bytes)).sort();
    assert.ok(server.requests.every((r) => r.headers['x-allocscope-pid'] === firstPid));

    const before = server.requests.length;
    server.script(() => 'ok');
    const second = startApp(t, ['1.2'], env);
    const secondExit = await second.exited;
    assert.equal(secondExit.status, 0, second.out().stderr);
    assert.doesNotMatch(second.out().stderr, /allocscope:/);
    const received = server.requests.slice(before);
    const replayed = received.filter((r) => r.headers['x-allocscope-pid'] === firstPid);
    assert.deepEqual(replayed.map((r) => sha256(r.body)).sort(), spooledHashes, "the first run's spooled profiles, each once");
    const own = received.filter((r) => r.headers['x-allocscope-pid'] === String(second.child.pid));
    assert.ok(own.length >= 2, `the second run's own profiles were delivered too (${own.length})`);
    assert.deepEqual(readSpool(spool), { entries: [], claimed: [] }, 'the spool is empty afterwards');
  });

  describe('bad settings: the app runs on, with one line on stderr', () => {
    const cases = [
      { name: 'an unknown scheme', env: { ALLOCSCOPE_UPLOAD: 'ftp://x' }, problem: /ftp:\/\/x: unknown scheme 'ftp:\/\/'/ },
      { name: 'a period that is not a number', env: { ALLOCSCOPE_PERIOD: 'abc' }, problem: /ALLOCSCOPE_PERIOD .*'abc'/ },
      { name: 'a label without a value', env: { ALLOCSCOPE_LABELS: 'novalue' }, problem: /ALLOCSCOPE_LABELS must be k=v pairs.*'novalue'/ },
      { name: 'an s3:// URL without a bucket', env: { ALLOCSCOPE_UPLOAD: 's3:///team' }, problem: /s3:\/\/\/team: missing the bucket name/ },
    ];
    for (const { name, env, problem } of cases) {
      it(name, { timeout: 30_000 }, async (t) => {
        const cwd = tempDir(t);
        const out = path.join(cwd, 'profiles');
        const app = startApp(t, ['0.3'], childEnv(path.join(cwd, 'spool'), { ALLOCSCOPE_UPLOAD: out, ALLOCSCOPE_PERIOD: '1', ...env }), { cwd });
        const { status, signal } = await app.exited;
        const { stdout, stderr } = app.out();
        assert.equal(status, 0, `signal ${signal}, stderr: ${stderr}`);
        assert.match(stdout, /^ready\napp done after \d+ rounds\n$/);
        const lines = stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, stderr);
        assert.match(lines[0], /^allocscope: /);
        assert.match(lines[0], problem);
        assert.match(lines[0], /profiling is off/);
        assert.deepEqual(fs.readdirSync(cwd), [], 'nothing written: profiling is off');
      });
    }

    it('an http:// URL that does not parse is said once, with one prefix', {
      timeout: 30_000,
    }, async (t) => {
      const cwd = tempDir(t);
      const app = startApp(t, ['0.3'], childEnv(path.join(cwd, 'spool'), { ALLOCSCOPE_UPLOAD: 'http://[x' }), { cwd });
      await app.exited;
      assert.match(app.out().stderr, /^allocscope: 'http:\/\/\[x' is not a valid URL/);
    });
  });
});

/**
 * assertLastProfilesSpooled: after a SIGTERM the spool holds every profile of the run (the one
 * that hung included), and the last pair was taken after the signal.
 */
function assertLastProfilesSpooled(spool, pid, termAt) {
  const { entries, claimed } = readSpool(spool);
  assert.deepEqual(claimed, [], 'no claims left behind');
  assert.ok(entries.length >= 2, `${entries.length} spooled`);
  for (const entry of entries) assert.equal(entry.header.pid, pid, entry.name);
  const js = sequencesOf(entries, 'js');
  assert.deepEqual(js, oneTo(js.length), 'every JS heap profile is spooled');
  assert.deepEqual(sequencesOf(entries, 'native'), js, 'and every native one');
  assert.deepEqual(sequencesOf(entries, 'handles'), js, 'and every handle count');
  const last = entries.filter((e) => e.header.sequence === js.length);
  assert.equal(last.length, 3);
  for (const entry of last) {
    assert.ok(entry.header.endMs >= termAt - 50, `${entry.name}: the last profile was taken at the signal`);
    assert.ok(decode(entry.bytes).samples !== undefined);
  }
}
