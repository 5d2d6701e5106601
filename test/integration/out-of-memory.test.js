// Near V8's heap limit the recorder writes a last profile pair, so an out-of-memory crash leaves its cause behind.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { test } = require('node:test');
const { ROOT, FIXTURES, tempDir, runCli, readProfile, sharesOf } = require('../support/cli');

const GROW = path.join(FIXTURES, 'out-of-memory', 'grow-until-oom.js');
const REGISTER = path.join(ROOT, 'dist', 'register.js');

function runUntilOom(mode, env = {}) {
  const out = tempDir();
  const result = runCli(['run', '--out', out, '--', process.execPath, '--max-old-space-size=48', GROW, mode], {
    env: { ...process.env, ...env },
  });
  return { out, result, files: fs.readdirSync(out).sort() };
}

function assertLeakNamed(heapFile) {
  const { shares } = sharesOf(readProfile(heapFile), 'inuse_space', 'cum');
  assert.ok((shares.rememberEverySession ?? 0) > 0.8, `rememberEverySession holds the heap: ${JSON.stringify(shares)}`);
}

for (const mode of ['sync', 'requests']) {
  test(`an out-of-memory crash (${mode === 'sync' ? 'one synchronous loop' : 'a leak across requests'}) leaves the last JS heap and native profiles, naming the leak`, () => {
    const { out, result, files } = runUntilOom(mode);
    assert.equal(result.signal, 'SIGABRT', result.stderr); // Node's out-of-memory abort(), passed on by run
    assert.match(result.stderr, /JavaScript heap out of memory/);
    assert.match(result.stderr, /allocscope: the JS heap is near its limit of 48 MiB: wrote profiles \(sequence 1\)/);
    assert.deepEqual(files.map((name) => name.replace(/^.*-(\d+)\./, '$1.')), ['0001.heap.pb.gz', '0001.native.pb.gz']);
    assertLeakNamed(path.join(out, files[0]));
    assert.ok(readProfile(path.join(out, files[1])).samples.length > 0, 'the native profile has samples');
  });
}

test('ALLOCSCOPE_NEAR_HEAP_LIMIT=0 turns it off: the crash leaves nothing', () => {
  const { result, files } = runUntilOom('sync', { ALLOCSCOPE_NEAR_HEAP_LIMIT: '0' });
  assert.equal(result.signal, 'SIGABRT', result.stderr); // Node's out-of-memory abort(), passed on by run
  assert.doesNotMatch(result.stderr, /near its limit/);
  assert.deepEqual(files, []);
});

test('a worker that runs out of memory leaves its own JS heap profile; the process goes on', () => {
  const out = tempDir();
  const result = runCli(['run', '--out', out, '--', process.execPath, GROW, 'worker']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, 'worker ended: ERR_WORKER_OUT_OF_MEMORY\n');
  assert.match(result.stderr, /allocscope: worker 1's JS heap is near its limit of 32 MiB/);
  const workerHeap = fs.readdirSync(out).filter((name) => /-w1-\d+\.heap\.pb\.gz$/.test(name));
  assert.equal(workerHeap.length, 1, fs.readdirSync(out).join(' '));
  assertLeakNamed(path.join(out, workerHeap[0]));
});

test('profiles for an unreachable upload destination wait in the spool when the process dies', () => {
  const spool = tempDir();
  const result = spawnSync(process.execPath, ['--max-old-space-size=48', '-r', REGISTER, GROW, 'sync'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ALLOCSCOPE_UPLOAD: 'http://127.0.0.1:9/ingest', ALLOCSCOPE_SPOOL: spool, ALLOCSCOPE_SERVICE: 'oom' },
  });
  assert.equal(result.signal, 'SIGABRT', result.stderr);
  const spooled = fs.readdirSync(spool, { recursive: true }).filter((name) => name.endsWith('.spool'));
  assert.deepEqual(spooled.map((name) => name.match(/-0001-(js|native|handles)\.spool$/)?.[1]).sort(), ['handles', 'js', 'native'], spooled.join(' '));
});
