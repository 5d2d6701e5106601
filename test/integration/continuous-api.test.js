// startContinuous, prom-client metrics and `allocscope run --upload`: profiles every period into a directory, with per-period native alloc values (also for stacks forgotten while idle).
'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, tempDir, runCli, readProfile } = require('../support/cli');
const { startContinuous, AllocscopeError } = require('../../dist/index.js');
const { PROFILE_FILE_PATTERN } = require('../../dist/record/file-names.js');

const { buildProbe } = require('../fixtures/alloc-probe/build.js');

const API_FIXTURE = path.join(FIXTURES, 'continuous', 'api-metrics.js');
const IDLE_STACK_FIXTURE = path.join(FIXTURES, 'continuous', 'idle-stack.js');
const NO_PROM_FIXTURE = path.join(FIXTURES, 'continuous', 'no-prom-client.js');

function profilesOf(dir, kind) {
  return fs.readdirSync(dir).filter((n) => PROFILE_FILE_PATTERN.test(n) && n.endsWith(`.${kind}.pb.gz`)).sort().map((n) => path.join(dir, n));
}

describe('startContinuous', () => {
  it('never loads prom-client itself: an application that does not use it does not carry it', () => {
    const run = spawnSync(process.execPath, [NO_PROM_FIXTURE, tempDir()], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const { resolvable, loaded } = JSON.parse(run.stdout);
    assert.ok(resolvable.length > 0, 'prom-client can be found from the fixture');
    assert.deepEqual(loaded, []);
  });

  it('delivers a profile pair every period and at stop, and registers its metrics in prom-client', () => {
    const dir = tempDir();
    const run = spawnSync(process.execPath, [API_FIXTURE, dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const { metrics, counters } = JSON.parse(run.stdout);
    const heaps = profilesOf(dir, 'heap');
    const natives = profilesOf(dir, 'native');
    // ~3 periods in 1.6 s, one pair at flush() and one at stop().
    assert.ok(heaps.length >= 4 && heaps.length === natives.length, `${heaps.length} heap, ${natives.length} native profiles`);
    const handles = profilesOf(dir, 'handles');
    assert.equal(handles.length, heaps.length, 'a handle count beside each pair');
    assert.equal(counters.delivered, heaps.length + natives.length + handles.length);
    const timers = readProfile(handles[0]).samples.find((s) => s.locations[0].lines[0].function.name === 'Timeout');
    assert.ok(timers !== undefined && timers.values[0] >= 1, 'the fixture\'s setInterval shows as an active Timeout');
    assert.deepEqual(counters.dropped, { rejected: 0, 'queue-full': 0, 'spool-full': 0, exit: 0 });
    assert.ok(metrics.allocscope_native_inuse_bytes > 1024 * 1024, `native in use ${metrics.allocscope_native_inuse_bytes}`);
    assert.ok(metrics.allocscope_js_heap_inuse_bytes > 0);
    assert.ok(metrics.allocscope_native_samples_total > 0);
    assert.ok(metrics.allocscope_uploads_total >= 6, `uploads ${metrics.allocscope_uploads_total}`);
    assert.equal(metrics.allocscope_upload_queue_length, 0);
    assert.equal(metrics['allocscope_upload_dropped_total{reason="rejected"}'], 0);
    // alloc_* per period: the periods' alloc_space adds up to about what the last in-use shows
    // (everything allocated was kept), instead of each profile repeating all earlier periods.
    const column = (profile, type) => profile.sampleTypes.findIndex((t) => t.type === type);
    const total = (profile, type) => profile.samples.reduce((sum, s) => sum + s.values[column(profile, type)], 0);
    const profiles = natives.map(readProfile);
    for (const profile of profiles) assert.ok(profile.comments.some((c) => /alloc_objects and alloc_space are per period/.test(c)));
    const allocated = profiles.reduce((sum, p) => sum + total(p, 'alloc_space'), 0);
    const lastInuse = total(profiles.at(-1), 'inuse_space');
    assert.ok(allocated < 3 * lastInuse, `alloc_space summed over periods ${allocated} against ${lastInuse} in use at the end`);
  });

  it('keeps native alloc_* per period right for a stack idle for a period (and forgotten meanwhile)', () => {
    buildProbe();
    const dir = tempDir();
    const run = spawnSync(process.execPath, [IDLE_STACK_FIXTURE, dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const MIB = 1024 * 1024;
    const near = (actual, expected, what) => assert.ok(Math.abs(actual - expected) <= 0.01 * expected, `${what}: ${actual} against ${expected}`);
    const probeAllocSpace = (profile) => {
      const column = profile.sampleTypes.findIndex((t) => t.type === 'alloc_space');
      return profile.samples
        .filter((s) => s.locations.some((l) => l.lines.some((line) => line.function.name === 'alloc_probe_malloc_blocks')))
        .reduce((sum, s) => sum + s.values[column], 0);
    };
    const periods = profilesOf(dir, 'native').map(readProfile).map(probeAllocSpace);
    assert.equal(periods.length, 4, 'three flushes and the last profile at stop');
    near(periods[0], 20 * MIB, 'period 1');
    assert.equal(periods[1], 0, 'period 2 allocated nothing there');
    near(periods[2], 5 * MIB, 'period 3: its own allocations, not their difference with period 1\'s');
    assert.equal(periods[3], 0, 'nothing since');
    // The stack was forgotten while idle: the cumulative profile counts it from period 3 on.
    near(probeAllocSpace(readProfile(path.join(dir, 'cumulative.pb.gz'))), 5 * MIB, 'native.profile() after period 3');
  });

  it('refuses a destination it cannot use with ERR_USAGE, and starts nothing', () => {
    assert.throws(() => startContinuous({ upload: 'ftp://example.com/x' }), (error) => {
      assert.ok(error instanceof AllocscopeError);
      assert.equal(error.code, 'ERR_USAGE');
      assert.match(error.message, /unknown scheme 'ftp:\/\/'/);
      return true;
    });
    const { heap, native } = require('../../dist/index.js');
    assert.equal(heap.isRunning(), false);
    assert.equal(native.isRunning(), false);
  });
});

describe('allocscope run --upload', () => {
  it('uploads to the destinations every period and does not write ./allocscope-profiles', () => {
    const dir = tempDir();
    const cwd = tempDir();
    const run = runCli(['run', '--upload', dir, '--every', '0.5', '--service', 'cli-test', '--labels', 'env=ci', '--', process.execPath, '-e',
      'const k = []; const t = setInterval(() => k.push(Buffer.alloc(65536)), 5); setTimeout(() => clearInterval(t), 1300);'], { cwd });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(profilesOf(dir, 'native').length >= 3, fs.readdirSync(dir).join(', '));
    assert.equal(profilesOf(dir, 'heap').length, profilesOf(dir, 'native').length);
    assert.equal(fs.existsSync(path.join(cwd, 'allocscope-profiles')), false);
  });

  it('rejects bad labels before running the command', () => {
    const run = runCli(['run', '--upload', tempDir(), '--labels', 'novalue', '--', process.execPath, '-e', '0']);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--labels must be k=v pairs/);
  });
});
