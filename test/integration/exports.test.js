// The package entry points: `require` and `import` give the same API objects, and nothing else leaks out.
'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');

const PUBLIC_NAMES = ['AllocscopeError', 'VERSION', 'decode', 'encode', 'heap', 'native', 'startContinuous', 'validateProfile'];

describe('package exports', () => {
  it('require("allocscope") exposes exactly the public names, with their types', () => {
    const api = require('allocscope');
    assert.deepEqual(Object.keys(api).sort(), PUBLIC_NAMES);
    assert.equal(typeof api.heap.start, 'function');
    assert.equal(typeof api.encode, 'function');
    assert.equal(typeof api.decode, 'function');
    assert.equal(typeof api.validateProfile, 'function');
    assert.match(api.VERSION, /^\d+\.\d+\.\d+/);
    assert.ok(new api.AllocscopeError('ERR_IO', 'x') instanceof Error);
  });

  it('import gives the same objects as require, so both share one profiler state', async () => {
    const esm = await import('allocscope');
    const cjs = require('allocscope');
    for (const name of PUBLIC_NAMES) assert.equal(esm[name], cjs[name], name);
    assert.equal(esm.default, cjs);
    esm.heap.start();
    try {
      assert.equal(cjs.heap.isRunning(), true);
    } finally {
      cjs.heap.stop();
    }
  });

  it('works from a pure ES module program', () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { heap, encode, decode } from 'allocscope';
      heap.start({ intervalBytes: 4096 });
      const kept = Array.from({ length: 1000 }, (_, i) => ({ i }));
      const profile = decode(encode(heap.profile()));
      heap.stop();
      console.log(profile.sampleTypes.map((t) => t.type).join(','), kept.length);
    `], { encoding: 'utf8', cwd: __dirname });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'inuse_objects,inuse_space 1000\n');
  });

  it('allocscope/register is importable as a subpath', () => {
    assert.match(require.resolve('allocscope/register'), /dist[\\/]register\.js$/);
  });
});
