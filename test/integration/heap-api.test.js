// The `heap` API on a real isolate: state rules, estimates of known sizes, GC on request, workers, other profilers.
'use strict';
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');
const { heap, encode, decode, validateProfile, AllocscopeError } = require('../../dist/index.js');
const { FIXTURES, ROOT, sharesOf } = require('../support/cli');

/** bytesUnder sums inuse_space of the samples whose stack contains a function named `name`. */
function bytesUnder(profile, name) {
  const index = profile.sampleTypes.findIndex((t) => t.type === 'inuse_space');
  let bytes = 0;
  for (const sample of profile.samples) {
    if (sample.locations.some((l) => l.lines.some((line) => line.function.name === name))) bytes += sample.values[index];
  }
  return bytes;
}

const retained = [];
function retainKnownBytes(arrays, length) {
  for (let i = 0; i < arrays; i++) retained.push(new Float64Array(0), new Array(length).fill(i + 0.5));
}

function makeGarbage(arrays) {
  let last;
  for (let i = 0; i < arrays; i++) last = new Array(1000).fill(i + 0.5);
  return last.length;
}

describe('heap', () => {
  afterEach(() => {
    heap.stop();
    retained.length = 0;
  });

  it('start() twice throws ERR_ALREADY_RUNNING naming the running settings', () => {
    heap.start({ intervalBytes: 65536, stackDepth: 32 });
    assert.throws(() => heap.start(), (error) => {
      assert.ok(error instanceof AllocscopeError);
      assert.equal(error.code, 'ERR_ALREADY_RUNNING');
      assert.match(error.message, /intervalBytes=65536, stackDepth=32/);
      return true;
    });
    assert.deepEqual(heap.settings(), { intervalBytes: 65536, stackDepth: 32 });
  });

  it('stop() when idle does nothing, and profile() when idle throws ERR_NOT_RUNNING', () => {
    heap.stop();
    heap.stop();
    assert.equal(heap.isRunning(), false);
    assert.equal(heap.settings(), undefined);
    assert.throws(() => heap.profile(), { code: 'ERR_NOT_RUNNING' });
  });

  it('rejects invalid options with a TypeError or RangeError that names the option, and stays stopped', () => {
    assert.throws(() => heap.start({ intervalBytes: -1 }), { name: 'RangeError', message: /'intervalBytes'/ });
    assert.throws(() => heap.start({ intervalBytes: 1.5 }), { name: 'RangeError', message: /'intervalBytes'/ });
    assert.throws(() => heap.start({ intervalBytes: 2 ** 40 }), { name: 'RangeError', message: /'intervalBytes'/ });
    assert.throws(() => heap.start({ stackDepth: 0 }), { name: 'RangeError', message: /'stackDepth'/ });
    assert.throws(() => heap.start({ stackDepth: '64' }), { name: 'TypeError', message: /'stackDepth'/ });
    assert.throws(() => heap.start({ interval: 1024 }), { name: 'TypeError', message: /unknown option 'interval' \(did you mean 'intervalBytes'\?\)/ });
    assert.throws(() => heap.start(42), { name: 'TypeError' });
    assert.equal(heap.isRunning(), false);
  });

  it('estimates retained memory of a known size within 20%, under the function that allocated it', () => {
    heap.start({ intervalBytes: 64 * 1024 });
    retainKnownBytes(4000, 1000); // 4000 arrays of 1000 doubles: ~8 KB of elements each, 32 MB in all
    const profile = heap.profile({ collectGarbage: true });
    const estimate = bytesUnder(profile, 'retainKnownBytes');
    const known = 4000 * 1000 * 8;
    assert.ok(Math.abs(estimate - known) / known < 0.2, `estimated ${estimate} bytes for ${known}`);
    validateProfile(profile);
  });

  it('profile({ collectGarbage: true }) leaves out objects that are already garbage', () => {
    heap.start({ intervalBytes: 64 * 1024 });
    makeGarbage(4000);
    retainKnownBytes(500, 1000);
    const profile = heap.profile({ collectGarbage: true });
    assert.equal(bytesUnder(profile, 'makeGarbage'), 0);
    assert.ok(bytesUnder(profile, 'retainKnownBytes') > 2_000_000);
    assert.ok(profile.comments.includes('full garbage collection before snapshot: yes'));
  });

  it('forgets earlier samples after stop() and start()', () => {
    heap.start({ intervalBytes: 64 * 1024 });
    retainKnownBytes(1000, 1000);
    heap.stop();
    heap.start({ intervalBytes: 64 * 1024 });
    assert.equal(bytesUnder(heap.profile(), 'retainKnownBytes'), 0);
  });

  it('encodes a real profile that decodes to the same samples, with readable function names', () => {
    heap.start({ intervalBytes: 64 * 1024 });
    retainKnownBytes(1000, 1000);
    const profile = heap.profile({ collectGarbage: true });
    const decoded = decode(encode(profile));
    assert.deepEqual(decoded.samples.map((s) => s.values), profile.samples.map((s) => s.values));
    const fn = decoded.functions.find((f) => f.name === 'retainKnownBytes');
    assert.equal(fn.filename, __filename);
    const line = require('node:fs').readFileSync(__filename, 'utf8').split('\n').findIndex((l) => l.startsWith('function retainKnownBytes')) + 1;
    assert.equal(fn.startLine, line);
    assert.equal(decoded.mappings[0].file, process.execPath);
  });

  it('reports ES module frames with file paths, not file:// URLs', async () => {
    heap.start({ intervalBytes: 32 * 1024 });
    const esm = await import(pathToFileURL(path.join(FIXTURES, 'esm-allocator.mjs')).href);
    esm.esmAllocate(5000);
    const profile = heap.profile({ collectGarbage: true });
    const fn = profile.functions.find((f) => f.name === 'esmAllocate');
    assert.equal(fn.filename, path.join(FIXTURES, 'esm-allocator.mjs'));
    assert.ok(profile.functions.every((f) => !f.filename.startsWith('file://')));
  });

  it('refuses to start while another tool runs V8\'s sampler (here @datadog/pprof)', () => {
    const datadog = require('@datadog/pprof');
    datadog.heap.start(512 * 1024, 64);
    try {
      assert.throws(() => heap.start(), { name: 'AllocscopeError', code: 'ERR_SAMPLER_IN_USE', message: /started by another tool/ });
      assert.equal(heap.isRunning(), false);
    } finally {
      datadog.heap.stop();
    }
    heap.start();
    assert.equal(heap.isRunning(), true);
  });

  it('counts as stopped, with a clear error, when another tool stops V8\'s sampler under it', () => {
    const { Session } = require('node:inspector');
    heap.start();
    const session = new Session();
    session.connect();
    try {
      // The inspector's stop ends V8's one sampler, which allocscope started.
      session.post('HeapProfiler.enable');
      session.post('HeapProfiler.startSampling');
      session.post('HeapProfiler.stopSampling');
    } finally {
      session.disconnect();
    }
    assert.throws(() => heap.profile(), { name: 'AllocscopeError', code: 'ERR_NOT_RUNNING', message: /stopped by another tool/ });
    assert.equal(heap.isRunning(), false);
    heap.start();
    assert.ok(heap.profile().sampleTypes.length === 2);
  });

  it('survives many start/profile/stop cycles without leaking', () => {
    const cycle = () => {
      heap.start({ intervalBytes: 16 * 1024 });
      retainKnownBytes(50, 100);
      heap.profile();
      heap.stop();
      retained.length = 0;
    };
    for (let i = 0; i < 20; i++) cycle();
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 200; i++) cycle();
    const grownMiB = (process.memoryUsage().rss - before) / 1048576;
    assert.ok(grownMiB < 32, `RSS grew ${grownMiB.toFixed(1)} MiB over 200 cycles`);
    assert.equal(heap.isRunning(), false);
  });

  it('lets workers exit with their sampler still running, many at once, without harm to the process', async () => {
    const source = `
      const { heap } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      heap.start({ intervalBytes: 8192 });
      globalThis.kept = Array.from({ length: 5000 }, (_, i) => ({ i }));
    `;
    const exits = Array.from({ length: 6 }, () => {
      const worker = new Worker(source, { eval: true });
      return new Promise((resolve, reject) => worker.once('exit', resolve).once('error', reject));
    });
    assert.deepEqual(await Promise.all(exits), [0, 0, 0, 0, 0, 0]);
    heap.start();
    assert.ok(Array.isArray(heap.profile().samples));
  });

  it('profiles a worker thread on its own: the worker\'s allocations, labelled with its thread id', async () => {
    heap.start({ intervalBytes: 32 * 1024 });
    const worker = new Worker(path.join(FIXTURES, 'worker-profile.js'), { workerData: { allocscope: path.join(ROOT, 'dist', 'index.js') } });
    const threadId = worker.threadId; // reads -1 once the worker has exited
    const [message] = await Promise.all([
      new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)),
      new Promise((resolve) => worker.once('exit', resolve)),
    ]);
    const profile = decode(message.bytes);
    assert.equal(message.retained, 20000);
    assert.ok(sharesOf(profile, 'inuse_space', 'cum').shares.workerAllocate > 0.8);
    assert.ok(profile.samples.every((s) => s.labels.some((l) => l.key === 'thread_id' && l.str === String(threadId))));
    // The main thread's profiler is separate: it never saw the worker's allocations.
    assert.equal(bytesUnder(heap.profile(), 'workerAllocate'), 0);
  });
});
