// `allocscope run` end to end: profiles written at exit and periodically, signals, exit codes, workers, output passthrough.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { FIXTURES, tempDir, runCli, startCli, profilesIn, sharesOf, readProfile } = require('../support/cli');
const { PROFILE_FILE_PATTERN } = require('../../dist/record/file-names.js');

const LEAK = path.join(FIXTURES, 'leak-and-churn.js');

describe('allocscope run', () => {
  let out;
  let result;
  before(() => {
    out = tempDir();
    result = runCli(['run', '--out', out, '--', process.execPath, LEAK, 'exit']);
  });

  it('passes the child output through and exits with its code', () => {
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'fixture done: 24000 cached\n');
    assert.match(result.stderr, /^allocscope: wrote 2 profiles to /m); // heap and native
  });

  it('writes a profile at exit in which the leaking function (with its callees) holds most of inuse_space and churn almost none', () => {
    const files = profilesIn(out);
    assert.equal(files.length, 1);
    assert.match(path.basename(files[0]), PROFILE_FILE_PATTERN);
    assert.match(path.basename(files[0]), new RegExp(`-pid\\d+-0001\\.heap\\.pb\\.gz$`));
    const profile = readProfile(files[0]);
    const { shares, total } = sharesOf(profile, 'inuse_space', 'cum');
    assert.ok(total > 16 * 1024 * 1024 && total < 40 * 1024 * 1024, `expected ~24 MiB in use, got ${total}`);
    assert.ok((shares.leakIntoCache ?? 0) > 0.7, `leakIntoCache holds ${shares.leakIntoCache}`);
    assert.ok((shares.churnGarbage ?? 0) < 0.05, `churnGarbage holds ${shares.churnGarbage}`);
    assert.ok(profile.comments.includes('full garbage collection before snapshot: yes'));
  });

  it('propagates a non-zero exit code and still writes the profile', () => {
    const dir = tempDir();
    const run = runCli(['run', '--out', dir, '--', process.execPath, LEAK, 'exit-code']);
    assert.equal(run.status, 3);
    assert.equal(profilesIn(dir).length, 1);
  });

  it('writes the profile when the program dies of an uncaught exception', () => {
    const dir = tempDir();
    const run = runCli(['run', '--out', dir, '--', process.execPath, LEAK, 'throw']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /fixture failure on purpose/);
    const { shares } = sharesOf(readProfile(profilesIn(dir)[0]), 'inuse_space', 'cum');
    assert.ok((shares.leakIntoCache ?? 0) > 0.7);
  });

  it('forwards SIGTERM, writes the profile, and dies by the same signal', async () => {
    const dir = tempDir();
    const child = await startCli(['run', '--out', dir, '--', process.execPath, LEAK, 'wait']);
    child.kill('SIGTERM');
    const { status, signal } = await child.exited;
    assert.equal(signal, 'SIGTERM', `status ${status}, stderr ${child.stderrText}`);
    const { shares } = sharesOf(readProfile(profilesIn(dir)[0]), 'inuse_space', 'cum');
    assert.ok((shares.leakIntoCache ?? 0) > 0.7);
  });

  it('on SIGINT lets the application\'s own handler decide, and writes the profile at its exit', async () => {
    const dir = tempDir();
    const child = await startCli(['run', '--out', dir, '--', process.execPath, LEAK, 'own-sigint']);
    child.kill('SIGINT');
    const { status, signal } = await child.exited;
    assert.equal(signal, null);
    assert.equal(status, 0);
    assert.match(child.stdoutText, /app handled SIGINT/);
    assert.equal(profilesIn(dir).length, 1);
  });

  it('--every writes periodic profiles that sort by time, then the final one', () => {
    const dir = tempDir();
    const run = runCli(['run', '--out', dir, '--every', '0.05', '--interval', '64k', '--', process.execPath, LEAK, 'exit']);
    assert.equal(run.status, 0, run.stderr);
    const files = profilesIn(dir).map((file) => path.basename(file));
    assert.ok(files.length >= 3, `only ${files.length} profiles: ${files}`);
    const sequences = files.map((name) => Number(/-(\d{4,})\.heap\.pb\.gz$/.exec(name)[1]));
    assert.deepEqual(sequences, sequences.map((_, i) => i + 1), 'sorted by time means sorted by sequence');
    const first = readProfile(path.join(dir, files[0]));
    const last = readProfile(path.join(dir, files.at(-1)));
    assert.equal(first.period, 64 * 1024);
    assert.ok(first.comments.some((c) => c.includes('full garbage collection before snapshot: no')));
    assert.ok(last.comments.includes('full garbage collection before snapshot: yes'));
  });

  it('profiles worker threads into their own files labelled with the thread id', () => {
    const dir = tempDir();
    const run = runCli(['run', '--out', dir, '--', process.execPath, LEAK, 'worker']);
    assert.equal(run.status, 0, run.stderr);
    const workerFiles = profilesIn(dir).filter((file) => /-w\d+-/.test(file));
    assert.equal(workerFiles.length, 1, `files: ${fs.readdirSync(dir)}`);
    const profile = readProfile(workerFiles[0]);
    const { shares } = sharesOf(profile, 'inuse_space', 'cum');
    assert.ok((shares.workerRetain ?? 0) > 0.7, `workerRetain holds ${shares.workerRetain}`);
    assert.ok(profile.samples.every((s) => s.labels.some((l) => l.key === 'thread_id' && l.str === '1')));
    const main = readProfile(profilesIn(dir).find((file) => !/-w\d+-/.test(file)));
    assert.equal(sharesOf(main, 'inuse_space', 'cum').shares.workerRetain, undefined);
  });

  it('profiles every Node process a command starts, each into files with its own pid', () => {
    const dir = tempDir();
    const node = JSON.stringify(process.execPath);
    const run = runCli(['run', '--out', dir, '--', 'sh', '-c', `${node} -e "globalThis.a = [1]" && ${node} -e "globalThis.b = [2]"`]);
    assert.equal(run.status, 0, run.stderr);
    const pids = profilesIn(dir).map((file) => /-pid(\d+)-/.exec(file)[1]);
    assert.equal(pids.length, 2);
    assert.notEqual(pids[0], pids[1]);
    assert.match(run.stderr, /wrote 4 profiles to /); // a heap and a native profile each
  });

  it('writes a native profile beside each heap profile by default; --no-native and --no-heap leave one out', () => {
    const kinds = (dir) => fs.readdirSync(dir).map((name) => /\.(heap|native)\.pb\.gz$/.exec(name)?.[1]).sort();
    const both = tempDir();
    assert.equal(runCli(['run', '--out', both, '--', process.execPath, '-e', 'globalThis.b = Buffer.alloc(1 << 20)']).status, 0);
    assert.deepEqual(kinds(both), ['heap', 'native']);
    const heapOnly = tempDir();
    assert.equal(runCli(['run', '--no-native', '--out', heapOnly, '--', process.execPath, '-e', '']).status, 0);
    assert.deepEqual(kinds(heapOnly), ['heap']);
    const nativeOnly = tempDir();
    const run = runCli(['run', '--no-heap', '--native-interval', '64k', '--native-max-rate', '0', '--out', nativeOnly, '--', process.execPath, '-e', 'globalThis.b = Buffer.alloc(1 << 20)']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(kinds(nativeOnly), ['native']);
    const profile = readProfile(path.join(nativeOnly, fs.readdirSync(nativeOnly)[0]));
    assert.equal(profile.period, 64 * 1024);
    assert.ok(profile.comments.some((c) => c.includes('maxSamplesPerSecond=0 intervalBytesNow=65536')), profile.comments.join('\n'));
    assert.equal(runCli(['run', '--no-heap', '--no-native', '--', process.execPath, '-e', '']).status, 2);
  });

  it('keeps the NODE_OPTIONS the user already had', () => {
    const dir = tempDir();
    const run = runCli(['run', '--out', dir, '--', process.execPath, '-e', 'console.log(process.title)'], {
      env: { ...process.env, NODE_OPTIONS: '--title=allocscope-title-check' },
    });
    assert.equal(run.stdout, 'allocscope-title-check\n');
  });

  it('exits 127 with one clear line when the command does not exist', () => {
    const run = runCli(['run', '--out', tempDir(), '--', 'no-such-command-allocscope']);
    assert.equal(run.status, 127);
    assert.match(run.stderr, /allocscope: cannot run 'no-such-command-allocscope': command not found/);
  });

  it('reports an unusable output directory once per process and lets the program run', () => {
    const notADirectory = path.join(tempDir(), 'file');
    fs.writeFileSync(notADirectory, '');
    const run = runCli(['run', '--out', notADirectory, '--', process.execPath, '-e', 'console.log("still running")']);
    assert.equal(run.status, 0);
    assert.equal(run.stdout, 'still running\n');
    const complaints = run.stderr.split('\n').filter((line) => line.includes('profiling is off for this process'));
    assert.equal(complaints.length, 1, run.stderr);
    assert.equal(complaints[0], `allocscope: cannot write profiles to ${notADirectory}: a file with that name is in the way; profiling is off for this process`);
  });

  it('reports bad settings in the environment once and lets the program run', () => {
    const cases = [
      [{ ALLOCSCOPE_PERIOD: 'soon' }, /allocscope: ALLOCSCOPE_PERIOD must be a number of seconds .* got 'soon'; profiling is off for this process/],
      [{ ALLOCSCOPE_NATIVE_MAX_RATE: '-1' }, /allocscope: ALLOCSCOPE_NATIVE_MAX_RATE must be a whole number from 0 to 1000000, got '-1'; profiling is off for this process/],
    ];
    for (const [settings, message] of cases) {
      const dir = tempDir();
      const run = runCli(['run', '--out', dir, '--', process.execPath, '-e', 'console.log("still running")'], {
        env: { ...process.env, ...settings },
      });
      assert.equal(run.status, 0);
      assert.equal(run.stdout, 'still running\n');
      assert.match(run.stderr, message);
      assert.equal(profilesIn(dir).length, 0);
    }
  });
});
