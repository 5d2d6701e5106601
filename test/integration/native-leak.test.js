// The FFmpeg case end to end: a C library without frame pointers leaks on every reconnect; `allocscope run` must show it.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { FIXTURES, tempDir, runCli, readProfile } = require('../support/cli');
const { buildFakeav } = require('../fixtures/native-leak/build');
const fs = require('node:fs');

const LEAK_MIB = 128;
const CHURN_MIB = 128;

/** inuseUnder sums inuse_space of the samples whose stack has a frame in a function named `name`. */
function inuseUnder(profile, name) {
  const index = profile.sampleTypes.findIndex((t) => t.type === 'inuse_space');
  let bytes = 0;
  for (const sample of profile.samples) {
    if (sample.locations.some((l) => l.lines.some((line) => line.function.name === name))) bytes += sample.values[index];
  }
  return bytes;
}

describe('native profile of a leaking C library (the FFmpeg case)', () => {
  let truth;
  let profile;
  before(() => {
    buildFakeav();
    const out = tempDir();
    const scenario = path.join(FIXTURES, 'native-leak', 'leak-scenario.js');
    // The default interval (512 KiB): what production runs with.
    const run = runCli(['run', '--out', out, '--', process.execPath, scenario, String(LEAK_MIB), String(CHURN_MIB)]);
    assert.equal(run.status, 0, run.stderr);
    truth = JSON.parse(run.stdout.trim().split('\n').at(-1));
    const natives = fs.readdirSync(out).filter((name) => name.endsWith('.native.pb.gz'));
    assert.equal(natives.length, 1, `native profiles: ${natives}`);
    profile = readProfile(path.join(out, natives[0]));
  });

  it('the fixture measured its own leak, and glibc agrees', (t) => {
    assert.ok(truth.requestedLeakBytes >= LEAK_MIB * 1048576);
    // Under test/native/run-addon-asan.sh the blocks are ASan's, which glibc's mallinfo cannot see.
    if (process.env.LD_PRELOAD?.includes('libasan')) return t.skip('glibc is not the allocator (ASan preloaded)');
    const disagreement = Math.abs(truth.mallinfoDelta - truth.requestedLeakBytes) / truth.requestedLeakBytes;
    assert.ok(disagreement < 0.05, `mallinfo says ${truth.mallinfoDelta}, the fixture ${truth.requestedLeakBytes}`);
  });

  it('estimates the leaked total under the init path within 25% of the truth', () => {
    const estimate = inuseUnder(profile, 'fakeav_open_input');
    const error = Math.abs(estimate - truth.requestedLeakBytes) / truth.requestedLeakBytes;
    assert.ok(error < 0.25, `estimated ${estimate} bytes leaked under fakeav_open_input, truth ${truth.requestedLeakBytes}`);
  });

  it('attributes at least 90% of the library\'s in-use memory to the init path, and none to the churn', () => {
    const init = inuseUnder(profile, 'fakeav_open_input');
    const churn = inuseUnder(profile, 'fakeav_churn');
    assert.ok(init / (init + churn) >= 0.9, `init ${init}, churn ${churn}`);
    const index = profile.sampleTypes.findIndex((t) => t.type === 'alloc_space');
    const churnAllocated = profile.samples
      .filter((s) => s.locations.some((l) => l.lines.some((line) => line.function.name === 'fakeav_churn')))
      .reduce((sum, s) => sum + s.values[index], 0);
    assert.ok(churnAllocated > 0.5 * CHURN_MIB * 1048576, `the churn was sampled while it ran (${churnAllocated} bytes)`);
  });

  it('unwinds through the library\'s frames although it has no frame pointers, up to the addon and Node', () => {
    const leakStack = profile.samples
      .filter((s) => s.locations.some((l) => l.lines.some((line) => line.function.name === 'alloc_io_buffer')))
      .map((s) => s.locations.flatMap((l) => l.lines.map((line) => line.function.name)))[0];
    assert.ok(leakStack, 'a sample through alloc_io_buffer');
    const order = ['fakeav_malloc', 'alloc_io_buffer', 'fakeav_open_input'].map((name) => leakStack.indexOf(name));
    assert.deepEqual([...order].sort((a, b) => a - b), order, `leaf-first order in ${leakStack.join(' < ')}`);
    assert.ok(order[0] >= 0 && order[0] <= 1, 'fakeav_malloc is the leaf (or next to it)');
    assert.ok(leakStack.some((name) => /Reconnect/.test(name)), 'the addon\'s caller is there');
    assert.ok(leakStack.some((name) => name.startsWith('node::Start(')), 'the walk reaches main through JIT frames');
  });

  it('has Go heap sample types, a mapping per object with build ids, and addresses', () => {
    assert.deepEqual(profile.sampleTypes.map((t) => `${t.type}/${t.unit}`), ['alloc_objects/count', 'alloc_space/bytes', 'inuse_objects/count', 'inuse_space/bytes']);
    assert.equal(profile.defaultSampleType, 'inuse_space');
    assert.deepEqual(profile.periodType, { type: 'space', unit: 'bytes' });
    assert.equal(profile.period, 512 * 1024);
    const fakeav = profile.mappings.find((m) => m.file.endsWith('libfakeav.so'));
    assert.ok(fakeav, 'libfakeav.so has a mapping');
    assert.match(fakeav.buildId, /^[0-9a-f]{16,}$/);
    assert.ok(fakeav.memoryLimit > fakeav.memoryStart);
    // Native frames have their address; JS frames (in the one '[js]' mapping) a named function.
    const native = profile.locations.filter((l) => l.mapping?.file !== '[js]');
    assert.ok(native.length > 0 && native.every((l) => l.address > 0));
    const js = profile.locations.filter((l) => l.mapping?.file === '[js]');
    assert.ok(js.length > 0 && js.every((l) => l.address === 0 && l.lines[0].function.name !== ''), 'JS frames by name');
    assert.ok(profile.comments.some((c) => /^samples=\d+ live=\d+ dropped: ring=0 table=0 stacks=0$/.test(c)), profile.comments.join('\n'));
  });
});
