// JS frames of an application that ships source maps (TypeScript here) are named at their original file and line, in JS heap and native profiles.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES, ROOT, tempDir, runCli, readProfile } = require('../support/cli');

const SOURCE = path.join(FIXTURES, 'source-maps', 'app.ts');
const LINE = fs.readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.startsWith('export function leakInTypeScript')) + 1;

/** framesOf lists the (file, line) of every location named `name` in a profile. */
function framesOf(profile, name) {
  return profile.samples.flatMap((s) => s.locations.flatMap((l) => l.lines)).filter((l) => l.function.name === name).map((l) => `${l.function.filename}:${l.line}`);
}

describe('source maps', () => {
  let out;
  let compiled;
  before(() => {
    compiled = tempDir();
    const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--sourceMap', '--target', 'ES2022', '--module', 'commonjs',
      '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--outDir', compiled, SOURCE], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    out = tempDir();
    const run = runCli(['run', '--out', out, '--', process.execPath, path.join(compiled, 'app.js')]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'kept 4000\n');
  });

  it('compiles to a different line, so the mapping is what puts the frame back', () => {
    const js = fs.readFileSync(path.join(compiled, 'app.js'), 'utf8').split('\n');
    const jsLine = js.findIndex((l) => l.startsWith('function leakInTypeScript')) + 1;
    assert.ok(jsLine > 0 && jsLine !== LINE, `app.js:${jsLine} against app.ts:${LINE}`);
  });

  for (const kind of ['heap', 'native']) {
    it(`names the leaking function at app.ts:${LINE} in the ${kind} profile`, () => {
      const file = fs.readdirSync(out).find((n) => n.endsWith(`.${kind}.pb.gz`));
      const frames = framesOf(readProfile(path.join(out, file)), 'leakInTypeScript');
      assert.ok(frames.length > 0, `${kind}: no leakInTypeScript frame`);
      for (const frame of frames) assert.equal(frame, `${SOURCE}:${LINE}`);
    });
  }

  it("reads the application's maps but not allocscope's own: the profiler's frames keep their dist/ positions", () => {
    const { SourceMaps } = require('../../dist/model/source-maps');
    const maps = new SourceMaps();
    const own = path.join(ROOT, 'dist', 'record', 'recorder.js');
    assert.ok(fs.existsSync(`${own}.map`), 'dist/ ships source maps, so skipping them is a choice');
    assert.equal(maps.originalPosition(own, 10, 1), undefined);
    const mapped = maps.originalPosition(path.join(compiled, 'app.js'), fs.readFileSync(path.join(compiled, 'app.js'), 'utf8').split('\n').findIndex((l) => l.includes('function leakInTypeScript')) + 1, 1);
    assert.equal(mapped?.file, SOURCE);
  });
});
