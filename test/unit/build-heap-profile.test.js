// Tests buildHeapProfile(), functionName() and displayFile() (src/heap/build-heap-profile.ts) on hand-made HeapSnapshotArrays.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { buildHeapProfile } = require('../../dist/heap/build-heap-profile');
const { functionName, displayFile } = require('../../dist/model/js-names');
const { validateProfile } = require('../../dist/model/validate');
const { encode, decode } = require('../../dist/format');
const { VERSION } = require('../../dist/version');

const ESM_URL = 'file:///srv/esm%20dir/mod.mjs';

/**
 * snapshot returns a small allocation tree, parents before children:
 *   0 (root)                       parent -1
 *   1 main          /app/main.js:1
 *   2 alloc         /app/main.js:10  <- 1     allocations 2x32 + 1x64  => 3 objects, 128 bytes
 *   3 ''            mod.mjs:7        <- 1     allocations 4x16         => 4 objects, 64 bytes
 *   4 alloc         /app/main.js:10  <- 3     allocations 1x1000       => 1 object, 1000 bytes
 *   5 ''            ''               <- 0     allocations 5x8          => 5 objects, 40 bytes
 *   6 helper        /app/main.js:20  <- 1     no allocations
 */
function snapshot() {
  const strings = ['', '(root)', 'main', '/app/main.js', 'alloc', ESM_URL, 'helper'];
  return {
    strings,
    nodeParent: Int32Array.from([-1, 0, 1, 1, 3, 0, 1]),
    nodeName: Int32Array.from([1, 2, 4, 0, 4, 0, 6]),
    nodeFile: Int32Array.from([0, 3, 3, 5, 3, 0, 3]),
    nodeLine: Int32Array.from([0, 1, 10, 7, 10, 0, 20]),
    nodeColumn: Int32Array.from([0, 1, 3, 5, 3, 0, 2]),
    nodeScriptId: Int32Array.from([0, 11, 11, 12, 11, 0, 11]),
    allocationNode: Int32Array.from([2, 3, 2, 4, 5]),
    allocationSizeBytes: Float64Array.from([32, 16, 64, 1000, 8]),
    allocationCount: Float64Array.from([2, 4, 1, 1, 5]),
  };
}

function context(overrides = {}) {
  return {
    settings: { intervalBytes: 65536, stackDepth: 32 },
    startNanos: 1700000000000000000n,
    timeNanos: 1700000002500000123n,
    threadId: 3,
    collectedGarbage: true,
    ...overrides,
  };
}

/** stackNames lists a sample's function names, leaf first. */
const stackNames = (sample) => sample.locations.map((l) => l.lines[0].function.name);

describe('buildHeapProfile()', () => {
  const profile = buildHeapProfile(snapshot(), context());

  it('has inuse_objects/count and inuse_space/bytes, defaulting to inuse_space', () => {
    assert.deepEqual(profile.sampleTypes, [
      { type: 'inuse_objects', unit: 'count' },
      { type: 'inuse_space', unit: 'bytes' },
    ]);
    assert.equal(profile.defaultSampleType, 'inuse_space');
  });

  it('has periodType space/bytes and period = intervalBytes', () => {
    assert.deepEqual(profile.periodType, { type: 'space', unit: 'bytes' });
    assert.equal(profile.period, 65536);
  });

  it('has timeNanos from the context and durationNanos = timeNanos - startNanos', () => {
    assert.equal(profile.timeNanos, 1700000002500000123n);
    assert.equal(profile.durationNanos, 2500000123);
  });

  it('makes one sample per node with allocations, valued [sum of counts, sum of count*size]', () => {
    assert.equal(profile.samples.length, 4);
    assert.deepEqual(profile.samples.map((s) => s.values), [[3, 128], [4, 64], [1, 1000], [5, 40]]);
  });

  it('records stacks leaf first, without the root', () => {
    assert.deepEqual(profile.samples.map(stackNames), [
      ['alloc', 'main'],
      ['(anonymous) mod.mjs:7', 'main'],
      ['alloc', '(anonymous) mod.mjs:7', 'main'],
      ['(anonymous)'],
    ]);
    assert.ok(!profile.functions.some((f) => f.name === '(root)'));
  });

  it('keeps line, column and start line of each frame', () => {
    const [leaf, caller] = profile.samples[0].locations;
    assert.deepEqual([leaf.lines[0].line, leaf.lines[0].column, leaf.lines[0].function.startLine], [10, 3, 10]);
    assert.deepEqual([caller.lines[0].line, caller.lines[0].column], [1, 1]);
    assert.equal(leaf.lines[0].function.filename, '/app/main.js');
  });

  it('names anonymous functions by basename and line, and turns file:// URLs into paths', () => {
    const anon = profile.functions.find((f) => f.name.startsWith('(anonymous) '));
    assert.equal(anon.name, '(anonymous) mod.mjs:7');
    assert.equal(anon.filename, '/srv/esm dir/mod.mjs');
    const bare = profile.functions.find((f) => f.name === '(anonymous)');
    assert.equal(bare.filename, '');
  });

  it('shares one function and one location between nodes of the same function', () => {
    assert.deepEqual(profile.functions.map((f) => f.name).sort(), ['(anonymous)', '(anonymous) mod.mjs:7', 'alloc', 'main']);
    assert.equal(profile.locations.length, 4);
    assert.equal(profile.samples[0].locations[0], profile.samples[2].locations[0]);
    assert.deepEqual(profile.functions.map((f) => f.id), [1, 2, 3, 4]);
    assert.deepEqual(profile.locations.map((l) => l.id), [1, 2, 3, 4]);
  });

  it('labels every sample with the thread id as a string', () => {
    for (const sample of profile.samples) assert.deepEqual(sample.labels, [{ key: 'thread_id', str: '3' }]);
  });

  it('uses one mapping, for the node binary, marked as already symbolized', () => {
    assert.equal(profile.mappings.length, 1);
    const [mapping] = profile.mappings;
    assert.equal(mapping.id, 1);
    assert.equal(mapping.file, process.execPath);
    assert.equal(mapping.hasFunctions, true);
    assert.ok(profile.locations.every((l) => l.mapping === mapping));
  });

  it("writes comments with allocscope's version, the settings and whether GC ran", () => {
    const text = profile.comments.join('\n');
    assert.match(profile.comments[0], new RegExp(`^allocscope ${VERSION.replace(/\./g, '\\.')}\\b`));
    assert.equal(VERSION, require('../../package.json').version);
    assert.match(text, /intervalBytes=65536 stackDepth=32/);
    assert.match(text, /thread_id=3/);
    assert.match(text, /full garbage collection before snapshot: yes/);
    const noGc = buildHeapProfile(snapshot(), context({ collectedGarbage: false })).comments.join('\n');
    assert.match(noGc, /full garbage collection before snapshot: no/);
    assert.doesNotMatch(noGc, /snapshot: yes/);
  });

  it('builds a valid profile that survives encode/decode', () => {
    assert.doesNotThrow(() => validateProfile(profile));
    assert.deepStrictEqual(decode(encode(profile)), profile);
  });

  it('returns a profile with no samples or locations for a snapshot without allocations', () => {
    const empty = { ...snapshot(), allocationNode: new Int32Array(0), allocationSizeBytes: new Float64Array(0), allocationCount: new Float64Array(0) };
    const result = buildHeapProfile(empty, context());
    assert.deepEqual([result.samples.length, result.locations.length, result.functions.length], [0, 0, 0]);
    assert.equal(result.mappings.length, 1);
  });

  it('adds allocations of several entries at one node together', () => {
    const snap = snapshot();
    snap.allocationNode = Int32Array.from([5, 5, 5]);
    snap.allocationSizeBytes = Float64Array.from([8, 8, 24]);
    snap.allocationCount = Float64Array.from([1, 2, 3]);
    const result = buildHeapProfile(snap, context());
    assert.deepEqual(result.samples.map((s) => s.values), [[6, 96]]);
  });
});

describe('functionName()', () => {
  it('keeps a real name', () => {
    assert.equal(functionName('handleRequest', '/srv/app.js', 12), 'handleRequest');
  });

  it('names an anonymous function by basename and line', () => {
    assert.equal(functionName('', '/srv/deep/dir/app.js', 12), '(anonymous) app.js:12');
    assert.equal(functionName('', 'app.js', 0), '(anonymous) app.js:0');
  });

  it('names an anonymous function without a file plain (anonymous)', () => {
    assert.equal(functionName('', '', 0), '(anonymous)');
    assert.equal(functionName('', '', 9), '(anonymous)');
  });
});

describe('displayFile()', () => {
  it('turns file:// URLs into paths, decoding escapes', () => {
    assert.equal(displayFile('file:///srv/app/index.mjs'), '/srv/app/index.mjs');
    assert.equal(displayFile(ESM_URL), '/srv/esm dir/mod.mjs');
  });

  it('passes other script names through', () => {
    for (const name of ['/srv/app.js', 'node:internal/timers', 'evalmachine.<anonymous>', '', 'https://x/y.js']) {
      assert.equal(displayFile(name), name);
    }
  });

  it('does not throw for a file:// URL that has no path form', () => {
    assert.equal(displayFile('file:///srv/a%2Fb.js'), '/srv/a%2Fb.js');
    assert.equal(typeof displayFile('file://remote-host/share/x.js'), 'string');
  });
});
