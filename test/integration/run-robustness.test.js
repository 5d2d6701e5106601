// `allocscope run` on a program using workers, the threadpool, child processes, signals and a late-loaded addon: it behaves as without allocscope, and every thread and process is profiled.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { FIXTURES, tempDir, runCli, startCli, startProcess, sharesOf, readProfile } = require('../support/cli');
const { parseProfileFileName } = require('../../dist/record/file-names.js');
const { buildFakeav } = require('../fixtures/native-leak/build');

const PROGRAM = path.join(FIXTURES, 'robustness', 'program.js');
// Four times the default sampling rate, and no sample budget (the program mallocs its 32 MiB of
// Buffers in a burst, which the budget would sample at a wider interval): the byte estimates
// below then sit within a few percent of the truth.
const NATIVE_INTERVAL = ['--native-interval', '128k', '--native-max-rate', '0'];
/** run's own closing line on stderr; the rest of stderr is the program's. */
const SUMMARY = /^allocscope: wrote \d+ profiles? to .*\n/m;

function runPlain(mode) {
  return spawnSync(process.execPath, [PROGRAM, mode], { encoding: 'utf8', timeout: 60_000 });
}

function runProfiled(out, runArgs, mode) {
  return runCli(['run', '--out', out, ...NATIVE_INTERVAL, ...runArgs, '--', process.execPath, PROGRAM, mode]);
}

/** readProfiles reads every profile in dir, in time order, as { pid, threadId, kind, profile }. */
function readProfiles(dir) {
  return fs.readdirSync(dir).sort().map((name) => ({ ...parseProfileFileName(name), profile: readProfile(path.join(dir, name)) }));
}

/** mainPidOf is the pid of the process whose worker threads wrote profiles: the program itself. */
function mainPidOf(profiles) {
  const pids = new Set(profiles.filter((p) => p.threadId > 0).map((p) => p.pid));
  assert.equal(pids.size, 1, `processes with workers: ${[...pids]}`);
  return [...pids][0];
}

/** kindsOf lists `<thread>:<kind>` for the profiles of one process, e.g. ['0:heap', '0:native', '1:heap']. */
function kindsOf(profiles, pid) {
  return [...new Set(profiles.filter((p) => p.pid === pid).map((p) => `${p.threadId}:${p.kind}`))].sort();
}

function lastOf(profiles, pid, threadId, kind) {
  return profiles.filter((p) => p.pid === pid && p.threadId === threadId && p.kind === kind).at(-1).profile;
}

function frameNames(sample) {
  return sample.locations.flatMap((l) => l.lines.map((line) => line.function.name));
}

/** sumWhere sums a sample type over the samples whose stack (function names, leaf first) passes `test`. */
function sumWhere(profile, sampleType, test) {
  const index = profile.sampleTypes.findIndex((t) => t.type === sampleType);
  return profile.samples.filter((s) => test(frameNames(s))).reduce((sum, s) => sum + s.values[index], 0);
}

function assertNear(estimate, truth, what) {
  assert.ok(Math.abs(estimate - truth) / truth < 0.25, `${what}: estimated ${estimate}, truth ${truth}`);
}

/** assertProgramProfiled checks that the program's main thread and both its workers wrote their profiles. */
function assertProgramProfiled(profiles) {
  const kinds = kindsOf(profiles, mainPidOf(profiles)).filter((kind) => !kind.endsWith(':handles'));
  assert.deepEqual(kinds, ['0:heap', '0:native', '1:heap', '2:heap']);
}

/** describeRun compares the program run plain and under `allocscope run ...runArgs`, and checks the profiles. */
function describeRun(title, runArgs) {
  describe(title, () => {
    let plain;
    let profiled;
    let profiles;
    let mainPid;
    before(() => {
      buildFakeav();
      plain = runPlain('exit');
      const out = tempDir();
      profiled = runProfiled(out, runArgs, 'exit');
      profiles = readProfiles(out);
      mainPid = mainPidOf(profiles);
    });

    it('prints the same transcript, adds only its summary to stderr, and exits with the program\'s code', () => {
      assert.equal(plain.status, 3, plain.stderr);
      assert.equal(profiled.status, 3, profiled.stderr);
      assert.equal(profiled.stdout, plain.stdout);
      assert.match(profiled.stderr, SUMMARY);
      assert.equal(profiled.stderr.replace(SUMMARY, ''), plain.stderr);
    });

    it('writes a JS heap profile for the main thread and one for each worker, which holds the worker\'s records', () => {
      assertProgramProfiled(profiles);
      for (const threadId of [1, 2]) {
        const profile = lastOf(profiles, mainPid, threadId, 'heap');
        const { shares } = sharesOf(profile, 'inuse_space', 'cum');
        assert.ok((shares.workerAllocates ?? 0) > 0.7, `worker ${threadId}: workerAllocates holds ${shares.workerAllocates}`);
        assert.ok(profile.samples.every((s) => s.labels.some((l) => l.key === 'thread_id' && l.str === String(threadId))));
      }
    });

    it('shows the leak of the addon loaded late, under the library\'s init and the JS function that called it', () => {
      const leaked = Number(/^late addon: leaked (\d+) bytes/m.exec(plain.stdout)[1]);
      const native = lastOf(profiles, mainPid, 0, 'native');
      const underInit = sumWhere(native, 'inuse_space', (names) => names.includes('fakeav_open_input'));
      assertNear(underInit, leaked, 'in use under fakeav_open_input');
      const underCaller = sumWhere(native, 'inuse_space', (names) => names.includes('fakeav_open_input') && names.includes('reconnectLate'));
      assert.ok(underCaller >= 0.9 * underInit, `under reconnectLate: ${underCaller} of ${underInit}`);
    });

    it('shows the workers\' Buffers in the native profiles, under the workers\' JS frames on worker threads', () => {
      const bufferBytes = [...plain.stdout.matchAll(/"bufferBytes":(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
      const natives = profiles.filter((p) => p.pid === mainPid && p.kind === 'native').map((p) => p.profile);
      // Backing stores only: workerAllocates also triggers collections, whose worklists V8 mallocs.
      const isWorkerBuffer = (names) => names.includes('workerAllocates') && names.some((name) => name.startsWith('node::NodeArrayBufferAllocator::'));
      // alloc_space is per period: summed over the periodic profiles it is what the whole run allocated.
      const allocated = natives.reduce((sum, profile) => sum + sumWhere(profile, 'alloc_space', isWorkerBuffer), 0);
      assertNear(allocated, bufferBytes, 'Buffers allocated under workerAllocates');
      const stacks = natives.flatMap((profile) => profile.samples).map(frameNames).filter((names) => names.includes('workerAllocates'));
      assert.ok(stacks.every((names) => names.includes('node::worker::Worker::Run()')), 'every such stack runs on a worker thread');
    });

    it('profiles both forked children under their own pids, the one killed by SIGTERM too', () => {
      const childPids = [...new Set(profiles.map((p) => p.pid))].filter((pid) => pid !== mainPid);
      assert.equal(childPids.length, 2, `pids: ${childPids}`);
      const kindsOfMainThread = kindsOf(profiles, mainPid).filter((kind) => kind.startsWith('0:'));
      for (const pid of childPids) assert.deepEqual(kindsOf(profiles, pid), kindsOfMainThread, `child ${pid}`);
      const computing = childPids.filter((pid) => (sharesOf(lastOf(profiles, pid, 0, 'heap'), 'inuse_space', 'cum').shares.childComputes ?? 0) > 0.7);
      assert.equal(computing.length, 1, 'the computing child\'s table is in its heap profile');
    });
  });
}

describe('allocscope run on a program using workers, the threadpool, child processes, signals and a late addon', () => {
  describeRun('profiles at exit', []);
  describeRun('periodic profiles while everything runs (--every 0.25)', ['--every', '0.25']);

  it('on SIGINT forwarded by run, the program\'s own handler exits 0 as without allocscope, and the profiles are written', async () => {
    buildFakeav();
    const plain = await startProcess(process.execPath, [PROGRAM, 'until-sigint']);
    plain.kill('SIGINT');
    const plainEnd = await plain.exited;
    const out = tempDir();
    const profiled = await startCli(['run', '--out', out, ...NATIVE_INTERVAL, '--', process.execPath, PROGRAM, 'until-sigint']);
    profiled.kill('SIGINT');
    const profiledEnd = await profiled.exited;
    assert.deepEqual(plainEnd, { status: 0, signal: null }, plain.stderrText);
    assert.deepEqual(profiledEnd, plainEnd, profiled.stderrText);
    assert.match(plain.stdoutText, /SIGINT: handled by the program, exit code 0\n$/);
    assert.equal(profiled.stdoutText, plain.stdoutText);
    assert.equal(profiled.stderrText.replace(SUMMARY, ''), plain.stderrText);
    assertProgramProfiled(readProfiles(out));
  });

  it('on an uncaught exception, prints the same error and exits 1 as without allocscope, and the profiles are written', () => {
    buildFakeav();
    const plain = runPlain('throw');
    const out = tempDir();
    const profiled = runProfiled(out, [], 'throw');
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, /Error: robustness program fails on purpose/);
    assert.equal(profiled.status, 1);
    assert.equal(profiled.stdout, plain.stdout);
    assert.equal(profiled.stderr.replace(SUMMARY, ''), plain.stderr);
    assertProgramProfiled(readProfiles(out));
  });
});
