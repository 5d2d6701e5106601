// The native heap profiler under stress: API state rules in this process; every hooked scenario
// (realloc and aligned-allocator edge cases, accuracy, workers and the libuv threadpool, child
// processes, start/stop cycles, addons loaded late, ring overflow) in a child process of its own,
// test/fixtures/alloc-probe/scenario.js, so that a crash or a deadlock in the hooks fails one test.
'use strict';
const { describe, it, before, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { native, AllocscopeError } = require('../../dist/index.js');
const { FIXTURES, tempDir } = require('../support/cli');
const { missingTool } = require('../support/tools');
const { buildProbe } = require('../fixtures/alloc-probe/build');
const { buildFakeav } = require('../fixtures/native-leak/build');

const SCENARIO = path.join(FIXTURES, 'alloc-probe', 'scenario.js');
const MiB = 1024 * 1024;

/**
 * scenario runs `node scenario.js name ...args` and returns its JSON result. It fails the test
 * when the child crashes (signal), exits non-zero or hangs past timeoutMs (a deadlock).
 */
function scenario(name, args = [], { timeoutMs = 60_000 } = {}) {
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--expose-gc', SCENARIO, name, ...args.map(String)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * MiB,
  });
  const took = `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const output = `\n--- stdout\n${child.stdout.slice(-4000)}\n--- stderr\n${child.stderr.slice(-4000)}`;
  if (child.error?.code === 'ETIMEDOUT') assert.fail(`scenario ${name} hung for ${took} (deadlock?)${output}`);
  assert.equal(child.signal, null, `scenario ${name} was killed by ${child.signal} after ${took}${output}`);
  assert.equal(child.status, 0, `scenario ${name} exited with ${child.status} after ${took}${output}`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** near asserts |actual - expected| <= tolerance * expected, with both in the message. */
function near(actual, expected, tolerance, what) {
  const error = Math.abs(actual - expected) / expected;
  assert.ok(error <= tolerance, `${what}: ${actual} for ${expected} (off by ${(error * 100).toFixed(1)}%, allowed ${tolerance * 100}%)`);
}

describe('native', () => {
  before(() => {
    buildProbe({ log: () => {} });
    buildFakeav({ log: () => {} });
  });

  describe('API state', () => {
    afterEach(() => native.stop());

    it('start() twice throws ERR_ALREADY_RUNNING naming the running settings, and keeps them', () => {
      native.start({ intervalBytes: 65536, stackDepth: 32 });
      assert.throws(() => native.start({ intervalBytes: 1024 }), (error) => {
        assert.ok(error instanceof AllocscopeError);
        assert.equal(error.code, 'ERR_ALREADY_RUNNING');
        assert.match(error.message, /intervalBytes=65536, stackDepth=32/);
        return true;
      });
      assert.equal(native.isRunning(), true);
      assert.equal(native.stats().running, true);
      assert.ok(native.profile().comments.some((c) => c.startsWith('intervalBytes=65536 stackDepth=32 maxSamplesPerSecond=100 ')));
    });

    it('stop() when idle does nothing, and profile() when stopped throws ERR_NOT_RUNNING', () => {
      native.stop();
      native.stop();
      assert.equal(native.isRunning(), false);
      assert.throws(() => native.profile(), { name: 'AllocscopeError', code: 'ERR_NOT_RUNNING' });
      native.start();
      native.stop();
      native.stop();
      assert.throws(() => native.profile(), { name: 'AllocscopeError', code: 'ERR_NOT_RUNNING' });
      const stats = native.stats();
      assert.equal(stats.running, false);
      assert.equal(stats.hookedObjects, 0);
      assert.equal(stats.hookedSlots, 0);
    });

    it('rejects invalid options with a TypeError or RangeError that names the option, and stays stopped', () => {
      assert.throws(() => native.start({ intervalBytes: 0 }), { name: 'RangeError', message: /'intervalBytes'/ });
      assert.throws(() => native.start({ intervalBytes: -1 }), { name: 'RangeError', message: /'intervalBytes'/ });
      assert.throws(() => native.start({ intervalBytes: 1.5 }), { name: 'RangeError', message: /'intervalBytes'/ });
      assert.throws(() => native.start({ intervalBytes: 2 ** 40 }), { name: 'RangeError', message: /'intervalBytes'/ });
      assert.throws(() => native.start({ intervalBytes: '4096' }), { name: 'TypeError', message: /'intervalBytes'/ });
      assert.throws(() => native.start({ stackDepth: 0 }), { name: 'RangeError', message: /'stackDepth'/ });
      assert.throws(() => native.start({ stackDepth: 129 }), { name: 'RangeError', message: /'stackDepth'/ });
      assert.throws(() => native.start({ stackDepth: '64' }), { name: 'TypeError', message: /'stackDepth'/ });
      assert.throws(() => native.start({ interval: 1024 }), { name: 'TypeError', message: /'interval'/ });
      assert.throws(() => native.start(42), { name: 'TypeError' });
      assert.equal(native.isRunning(), false);
      assert.throws(() => native.start({ maxSamplesPerSecond: -1 }), { name: 'RangeError', message: /'maxSamplesPerSecond'/ });
      assert.throws(() => native.start({ maxSamplesPerSecond: 0.5 }), { name: 'RangeError', message: /'maxSamplesPerSecond'/ });
      assert.throws(() => native.start({ maxSamplesPerSecond: '100' }), { name: 'TypeError', message: /'maxSamplesPerSecond'/ });
      assert.equal(native.isRunning(), false);
      native.start({ intervalBytes: 1, stackDepth: 128, maxSamplesPerSecond: 0 }); // the limits themselves are accepted
      assert.ok(native.profile().comments.some((c) => c.startsWith('intervalBytes=1 stackDepth=128 maxSamplesPerSecond=0 ')));
      assert.equal(native.stats().intervalBytes, 1, 'with the budget off, the interval stays put');
    });
  });

  it('never counts blocks allocated before start and freed during the session, and counts those allocated during it', () => {
    // 2000 x 1 KiB, 8 x 1 MiB and 5000 x 24 B before start; 2000 x 1 KiB during the session, at
    // intervalBytes 64 (every 1 KiB block sampled). 1% allows for one block missed, nothing more.
    const r = scenario('before-start');
    near(r.inuseWhileBoth, r.duringBytes, 0.01, 'in use while both sets are live: only the session\'s blocks');
    near(r.inuseAfterEarlyFreed, r.duringBytes, 0.01, 'in use after the earlier blocks were freed: the same');
    assert.equal(r.inuseAfterAllFreed, 0);
    near(r.allocAfterAllFreed, r.duringBytes, 0.01, 'allocated: the session\'s blocks only');
  });

  it('handles realloc\'s edge cases correctly with nearly every call sampled, and nothing stays in use', () => {
    const rounds = 300;
    const r = scenario('edge-cases', ['realloc', rounds]);
    assert.deepEqual(r.failures, {}, `cases that went wrong under the hooks (of ${r.cases})`);
    // Per round: realloc(NULL, 1000), malloc(100000) shrunk to 100, malloc(64) x2 with one grown
    // to 1 MiB, malloc(200) whose realloc to a huge size fails. Small blocks are weighted, hence ~.
    near(r.allocSpace, rounds * (1000 + 100000 + 100 + 64 + 64 + 1048576 + 200), 0.01, 'alloc_space under alloc_probe_realloc_cases');
    // Each stack starts at the function that called the allocator: no hook frame, no frame lost.
    assert.equal(r.leafAllocSpace, r.allocSpace, 'alloc_space with alloc_probe_realloc_cases as the leaf');
    assert.equal(r.inuseSpace, 0, 'in use after everything was freed');
    assert.equal(r.droppedTableFull, 0);
  });

  it('handles the aligned allocators, reallocarray and calloc (overflows included), and nothing stays in use', () => {
    const rounds = 300;
    const r = scenario('edge-cases', ['aligned', rounds]);
    assert.deepEqual(r.failures, {}, `cases that went wrong under the hooks (of ${r.cases})`);
    // Per round: posix_memalign 1000, aligned_alloc 1024, memalign 5000, valloc 10000, pvalloc 10000,
    // reallocarray 100x8 grown to 1000x8, calloc 512x4; the failing calls allocate nothing.
    near(r.allocSpace, rounds * (1000 + 1024 + 5000 + 10000 + 10000 + 800 + 8000 + 2048), 0.01, 'alloc_space under alloc_probe_aligned_cases');
    assert.equal(r.leafAllocSpace, r.allocSpace, 'alloc_space with alloc_probe_aligned_cases as the leaf');
    assert.equal(r.inuseSpace, 0, `in use after everything was freed (${r.inuseObjects} objects)`);
    assert.equal(r.droppedTableFull, 0, 'address table drops with hardly anything live');
  });

  it('estimates 1 GiB of mixed-size allocations (16 B to 1 MiB) within 5% at the default interval', () => {
    const r = scenario('accuracy', [2 ** 30, 1]);
    assert.ok(r.exact >= 2 ** 30);
    assert.equal(r.dropped, 0);
    near(r.estimate, r.exact, 0.05, 'alloc_space under alloc_probe_mixed');
    assert.equal(r.inuse, 0);
  });

  it('keeps a heavy allocator near maxSamplesPerSecond by widening the interval, unbiased, and narrows it back when idle', () => {
    // Mixed allocations at a 4 KiB interval would take ~100,000 samples a second here.
    const budget = 500;
    const r = scenario('budget', [3, budget]);
    assert.equal(r.dropped, 0);
    const widest = Math.max(...r.chunks.map((c) => c.intervalBytes));
    assert.ok(widest > 100 * 4096, `the interval widened to ${widest} bytes only`);
    // After the first second the windows hold the budget: at most twice it, allowing for the
    // hysteresis (25%) and the count's noise.
    const end = r.chunks[r.chunks.length - 1];
    const from = r.chunks.find((c) => c.ms >= 1000);
    assert.ok(from !== undefined && end.ms - from.ms >= 1000, `the scenario ran ${end.ms} ms only`);
    const perSecond = ((end.samples - from.samples) * 1000) / (end.ms - from.ms);
    assert.ok(perSecond <= 2 * budget, `${perSecond.toFixed(0)} samples a second for a budget of ${budget}`);
    // Each sample weighs by its own interval: ~1,500 samples, a standard error of ~3%.
    near(r.estimate, r.exact, 0.12, 'alloc_space under alloc_probe_mixed while the interval moved');
    assert.equal(r.idleIntervalBytes, 4096, 'the interval once the allocations stopped');
    assert.ok(r.comments.some((c) => /maxSamplesPerSecond=500 intervalBytesNow=\d+/.test(c)), r.comments.join('\n'));
  });

  it('counts a thread\'s allocations right after native.profile() ran on that thread', () => {
    // 48 x 16 KiB after each of 16 profile() calls, at 4 KiB: 98% of the blocks are sampled,
    // and the estimate's standard error is ~0.5%.
    const r = scenario('after-profile', [16, 48, 16 * 1024]);
    near(r.estimate, r.exact, 0.03, 'alloc_space of the blocks allocated right after profile()');
  });

  it('makes continuous profiling\'s native profiles per period: alloc counts its period only, in-use what is live, each reaching back to the previous', () => {
    const r = scenario('per-period');
    assert.equal(r.dropped, 0, 'samples dropped (ring, address table or stack table full)');
    assert.deepEqual(r.periods.map((p) => p.blocks), [
      { alloc: 10, inuse: 0 }, // allocated and freed in period 1
      { alloc: 4, inuse: 4 }, // allocated in period 2 and kept
      { alloc: 0, inuse: 4 }, // nothing allocated: the stack stays for its live blocks
      { alloc: 0, inuse: 0 }, // freed: the stack is gone
    ]);
    assert.deepEqual(r.cumulative, { alloc: 14, inuse: 4 }, 'native.profile() in between counts since start and leaves the periods alone');
    for (let i = 1; i < r.periods.length; i++) {
      assert.equal(BigInt(r.periods[i].durationNanos), BigInt(r.periods[i].timeNanos) - BigInt(r.periods[i - 1].timeNanos), `period ${i + 1} starts where period ${i} ended`);
    }
    for (const p of r.periods) assert.match(p.comment, /^alloc_objects and alloc_space are per period: allocations since \S+Z only \(delta profile\)$/);
  });

  it('keeps the node binary\'s symbol tables out of the host\'s RSS once it has read them', () => {
    // node's .symtab and .strtab are ~10 MiB; reading and sorting them touched all of it, and
    // each name looked up since faults in up to 64 KiB around it: 10 MiB stayed resident.
    const r = scenario('symbol-rss');
    assert.ok(r.nodeFunctionsNamed > 0, 'frames in node were named');
    assert.equal(r.wholeFileMappings.length, 1, `one mapping of the whole node binary: ${JSON.stringify(r)}`);
    assert.ok(r.wholeFileMappings[0].rssKiB < 1024, `${r.wholeFileMappings[0].rssKiB} KiB of the ${(r.fileBytes / 1048576).toFixed(0)} MiB file resident`);
  });

  it('counts a fresh native thread\'s allocations right after its first sample', () => {
    // 4 threads each allocate 512 blocks of 4 KiB at intervalBytes 16, so every block is sampled.
    const r = scenario('thread-accuracy', [4, 2 * MiB, 4096, 16]);
    assert.equal(r.dropped, 0);
    near(r.estimate, r.exact, 0.1, 'alloc_space under alloc_probe_thread_body');
  });

  it('samples each fresh native thread independently', () => {
    // 200 threads one after another, each 500 x 128 B at 16 KiB: ~3.9 samples per thread (Poisson).
    const r = scenario('fresh-threads', [200, 500, 128, 16 * 1024]);
    assert.ok(r.distinct >= 3, `samples per thread should vary, got ${r.distinct} distinct counts: ${r.perThread.slice(0, 40)}...`);
    near(r.estimate, r.exact, 0.15, 'alloc_space under alloc_probe_thread_body');
  });

  it('keeps workers and the libuv threadpool (zlib, pbkdf2, readFile) working while profile() runs in a loop', () => {
    const r = scenario('threads-and-pool', [2]);
    assert.equal(r.workers.length, 2);
    for (const worker of r.workers) {
      assert.equal(worker.code, 0);
      assert.ok(worker.rounds > 0);
      assert.equal(worker.running, true, 'a worker sees the process-wide session');
      assert.match(worker.startError, /^ERR_ALREADY_RUNNING: .*started by another thread/);
      assert.equal(worker.profileError, 'ERR_NOT_RUNNING');
    }
    for (const [task, count] of Object.entries(r.pool)) assert.ok(count > 0, `${task} completed ${count} times`);
    assert.ok(r.profiles >= 3, `${r.profiles} profiles taken while everything ran`);
    assert.ok(r.samples > 1000, `${r.samples} samples`);
    assert.ok(r.zlibAlloc > 0, 'zlib\'s allocations on the threadpool are in the profile');
    assert.ok(r.workerBlocksAlloc > 0, 'the workers\' allocations through the probe are in the profile');
  });

  it('lets a profiled process fork, exec and spawn children that all exit 0, also with a raw fork() that allocates', (t) => {
    // ASan's allocator does not reset its locks in a forked child: the raw fork() that allocates
    // deadlocks inside ASan itself (seen in its SizeClassAllocator64), with or without allocscope.
    if (process.env.LD_PRELOAD?.includes('libasan')) return t.skip('a raw fork() that allocates deadlocks in ASan\'s own allocator');
    const r = scenario('children');
    assert.deepEqual(r.exits.fork, { code: 0, signal: null, message: { pid: r.exits.fork.message.pid, buffers: 1000 } });
    assert.equal(r.exits.execFileSync, '');
    assert.deepEqual(r.exits.spawnSync, { code: 0, signal: null, out: 'hi' });
    assert.deepEqual(r.exits.spawn, Array.from({ length: 8 }, (_, i) => ({ code: 0, signal: null, out: String(i) })));
    assert.deepEqual(r.exits.probeFork, [0, 0, 0, 0, 0], 'exit statuses of the probe\'s forked children (128+n: killed by signal n)');
    assert.equal(r.exits.worker, 0);
    assert.equal(r.running, false);
  });

  it('survives 1,000 start/stop cycles with allocations between, without unbounded memory growth', () => {
    const r = scenario('start-stop', [1000]);
    assert.equal(r.stats.running, false);
    assert.equal(r.stats.hookedObjects, 0);
    assert.equal(r.stats.hookedSlots, 0);
    assert.equal(r.profileError, 'ERR_NOT_RUNNING');
    assert.equal(r.profiles, 20);
    const grownMiB = r.rssMiB[r.rssMiB.length - 1] - r.rssMiB[0];
    assert.ok(grownMiB < 64, `RSS grew ${grownMiB} MiB from cycle 100 to 1000 (${r.rssMiB} MiB every 100)`);
  });

  it('hooks an addon loaded after start: its library\'s allocations show up under its own function names', () => {
    const r = scenario('dlopen-after-start');
    // libfakeav.so calls the allocator through its own GOT; the addon itself only through libstdc++.
    assert.ok(r.hookedObjectsAfter >= r.hookedObjectsBefore + 1, `objects with hooked GOT slots ${r.hookedObjectsBefore} -> ${r.hookedObjectsAfter} (libfakeav.so)`);
    assert.ok(r.hookedSlotsAfter > r.hookedSlotsBefore);
    // Not alloc_context: its 264-byte contexts are sampled ~4 times in all, and may be missed.
    for (const name of ['fakeav_open_input', 'fakeav_malloc', 'alloc_io_buffer', 'fakeav_churn']) assert.ok(r.functions.includes(name), `${name} in ${r.functions}`);
    assert.deepEqual(r.files.sort(), ['fakeav_addon.node', 'libfakeav.so']);
    near(r.inuseOpenInput, r.leaked, 0.1, 'in use under fakeav_open_input');
    assert.equal(r.inuseChurn, 0);
    near(r.allocChurn, 32 * MiB, 0.1, 'allocated under fakeav_churn');
  });

  it('keeps its addon loaded when the worker that started native profiling ends, and the process runs on', () => {
    const r = scenario('started-in-worker');
    assert.equal(r.mapped, true, 'allocscope.node still mapped after the worker left');
    assert.equal(r.running, true, 'the process-wide session outlives the worker that started it');
    assert.ok(r.samples > 0, 'the main thread\'s allocations were sampled');
    assert.equal(r.runningAfterStop, false, 'any thread can stop it');
  });

  it('hooks an addon again when a new worker reloads it after the last one unloaded it', () => {
    const r = scenario('dlopen-reload', [5]);
    for (const [i, round] of r.rounds.entries()) {
      assert.equal(round.exit, 0);
      // 8 blocks of 256 KiB, each surely sampled; at least half, whatever the loader's own allocations cost.
      assert.ok(round.inuse >= r.expected / 2, `round ${i} (copy loaded at 0x${round.base}): ${round.inuse} bytes in use of ${r.expected}; ` +
        `all rounds: ${JSON.stringify(r.rounds)}`);
    }
  });

  it('hooks an addon that a worker loads while the main thread is taking a profile', () => {
    const r = scenario('dlopen-race', [40]);
    const missed = r.hooked.flatMap((n, i) => (n === 0 ? [i] : []));
    assert.deepEqual(missed, [], `copies not hooked when loaded (hookedObjects deltas ${r.hooked.join(' ')}; ${r.profiles} profiles)`);
    const unseen = r.inuse.flatMap((bytes, i) => (bytes === 0 ? [i] : []));
    assert.deepEqual(unseen, [], `copies whose 2 MiB of blocks are not in the profile (in use: ${r.inuse.join(' ')})`);
  });

  it('widens the interval instead of dropping when every allocation is sampled from several threads at once, narrows it back, and stays consistent', () => {
    // intervalBytes 1 with no sample budget: every allocation is sampled, far faster than the
    // drain empties the ring.
    const r = scenario('ring-overflow', [4, 150000, 16]);
    assert.ok(r.stats.backlogWidenings > 0, `widenings: ${JSON.stringify(r.stats)}`);
    assert.equal(r.stats.droppedRingFull + r.stats.droppedTableFull, 0, `drops: ${JSON.stringify(r.stats)}`);
    // At least the ring's backlog mark (3/4 of its 8,192 records) was taken before it widened.
    assert.ok(r.stats.samples >= 6144, `${r.stats.samples} samples`);
    assert.ok(r.comments.some((c) => /backlogWidenings=[1-9]\d*$/.test(c)), r.comments.join('\n'));
    assert.equal(r.intervalAfterWait, 1, `the interval ${r.narrowedAfterMs} ms after the burst`);
    assert.equal(r.threadBodyInuse, 0, 'everything the threads allocated was freed');
    assert.equal(r.blocksInuse, 100 * 4096, 'blocks allocated after the overflow are all in use');
  });

  it('writes profiles that go tool pprof -raw reads with nothing on stderr', (t) => {
    if (missingTool(t, 'go', ['version'])) return;
    const dir = tempDir();
    const files = [path.join(dir, 'late-addon.pb.gz'), path.join(dir, 'overflow.pb.gz')];
    scenario('dlopen-after-start', [files[0]]);
    scenario('ring-overflow', [2, 20000, 16, files[1]]);
    for (const file of files) {
      const home = tempDir('allocscope-pprof-home-');
      const raw = spawnSync('go', ['tool', 'pprof', '-raw', file], { encoding: 'utf8', env: { ...process.env, HOME: home, PPROF_TMPDIR: home } });
      assert.equal(raw.status, 0, `${path.basename(file)}: ${raw.stderr}`);
      assert.equal(raw.stderr, '', `${path.basename(file)} printed on stderr:\n${raw.stderr}`);
      assert.match(raw.stdout, /^alloc_objects\/count alloc_space\/bytes inuse_objects\/count inuse_space\/bytes\[dflt\]$/m);
      assert.match(raw.stdout, /^PeriodType: space bytes$/m);
    }
    assert.match(spawnSync('go', ['tool', 'pprof', '-raw', files[0]], { encoding: 'utf8', env: { ...process.env, HOME: dir, PPROF_TMPDIR: dir } }).stdout, /fakeav_open_input/);
  });
});
