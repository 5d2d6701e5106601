// Every profile allocscope writes (run's JS heap, native and handles profiles, main thread and worker) opens in Speedscope in headless Chromium.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, tempDir, runCli, runLeakAndChurn } = require('../support/cli');
const { missingTool } = require('../support/tools');
const { openInSpeedscope, CHROMIUM } = require('../support/speedscope');
const { buildFakeav } = require('../fixtures/native-leak/build');

describe('Speedscope opens allocscope profiles', () => {
  let heapFiles;
  let nativeFiles;
  let handlesFiles;
  before(() => {
    const dir = tempDir();
    runLeakAndChurn(dir);
    // The FFmpeg case, smaller, called from JS: a native profile with memory in use under a
    // library without frame pointers, below the JS function that called it.
    buildFakeav();
    const scenario = path.join(FIXTURES, 'mixed-stacks', 'scenario.js');
    const run = runCli(['run', '--out', dir, '--no-heap', '--', process.execPath, scenario, 'streams', '32']);
    assert.equal(run.status, 0, run.stderr);
    const named = (suffix) => fs.readdirSync(dir).filter((name) => name.endsWith(suffix)).sort().map((name) => path.join(dir, name));
    heapFiles = named('.heap.pb.gz');
    nativeFiles = named('.native.pb.gz');
    // Periodic runs also write handle counts. (Not diff -o's output: a diff has negative values,
    // which Speedscope cannot weigh; it is for go tool pprof, tested in diff.test.js.)
    const periodic = tempDir();
    const timers = runCli(['run', '--out', periodic, '--every', '0.3', '--', process.execPath, '-e',
      'const k = []; const t = setInterval(() => { k.push(Buffer.alloc(1 << 16)); setTimeout(() => {}, 60_000); }, 20); setTimeout(() => process.exit(0), 1200);']);
    assert.equal(timers.status, 0, timers.stderr);
    handlesFiles = fs.readdirSync(periodic).filter((n) => n.endsWith('.handles.pb.gz')).sort().map((n) => path.join(periodic, n));
  });

  it('loads every heap and native profile, with readable function names and byte totals', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    assert.ok(heapFiles.some((file) => /-w\d+-/.test(file)), `a worker's heap profile among ${heapFiles}`);
    assert.ok(nativeFiles.length >= 2, `native profiles of both runs, got ${nativeFiles.length}`);
    const results = await openInSpeedscope([...heapFiles, ...nativeFiles]);
    for (const result of results) {
      const name = path.basename(result.file);
      assert.ok(result.loaded, `${name}: title "${result.title}", alerts ${JSON.stringify(result.alerts)}, errors ${JSON.stringify(result.errors)}`);
      assert.match(result.importer, /pprof/, `${name} imported as pprof`);
      // A profile with nothing in use at exit shows an empty table; the others show byte totals.
      assert.match(result.sandwich, /\d+(\.\d+)? (B|KB|MB) \(|No symbols found/, `${name}: the Sandwich table`);
    }
    const mainHeap = results.find((r) => r.file.endsWith('.heap.pb.gz') && !/-w\d+-/.test(r.file));
    assert.match(mainHeap.sandwich, /leakIntoCache/, 'the leaking JS function by name');
    // Speedscope shows the last sample type, inuse_space: the FFmpeg case's leak, by C name and C++ name.
    const leaking = results.filter((r) => /fakeav_open_input/.test(r.sandwich));
    assert.equal(leaking.length, 1, 'the FFmpeg case\'s native profile shows the leaking init call');
    assert.match(leaking[0].sandwich, /\d+(\.\d+)? MB \(\d+(\.\d+)?%\)\s+[^\n]*\s+fakeav_malloc/, 'MBs under the allocator of the leak');
    assert.match(leaking[0].sandwich, /\(anonymous namespace\)::Reconnect|Reconnect\(/, 'the addon\'s C++ caller, demangled');
    assert.match(leaking[0].sandwich, /streamThatLeaks/, 'the JS function above them: a mixed stack');
  });

  it('loads the handle counts of periodic profiles', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    assert.ok(handlesFiles.length >= 3, `handles profiles: ${handlesFiles.length}`);
    const results = await openInSpeedscope([handlesFiles.at(-2)]);
    for (const result of results) {
      assert.ok(result.loaded, `${path.basename(result.file)}: title "${result.title}", alerts ${JSON.stringify(result.alerts)}, errors ${JSON.stringify(result.errors)}`);
    }
    assert.match(results[0].sandwich, /Timeout/, 'the timers by their resource type');
  });

  it('reports a file Speedscope cannot read as not loaded (the check can fail)', async (t) => {
    if (missingTool(t, CHROMIUM, ['--version'])) return;
    const junk = path.join(tempDir(), 'junk.pb.gz');
    fs.writeFileSync(junk, require('node:zlib').gzipSync(Buffer.from('not a profile, not any format at all\n'.repeat(50))));
    const [result] = await openInSpeedscope([junk]);
    assert.equal(result.loaded, false);
    assert.ok(result.alerts.some((message) => /Unrecognized format/.test(message)), JSON.stringify(result));
  });
});
