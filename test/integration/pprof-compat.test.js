// Every profile `allocscope run` writes (main thread, worker, periodic, final) loads in `go tool pprof` without a warning.
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDir, runLeakAndChurn, profilesIn } = require('../support/cli');
const { missingTool } = require('../support/tools');

function pprof(args) {
  // An empty PPROF_TMPDIR/HOME keeps pprof from writing into the user's ~/pprof.
  const home = tempDir('allocscope-pprof-home-');
  return spawnSync('go', ['tool', 'pprof', ...args], { encoding: 'utf8', env: { ...process.env, HOME: home, PPROF_TMPDIR: home } });
}

describe('go tool pprof reads allocscope profiles (JS heap and native)', () => {
  let files;
  let natives;
  before(() => {
    const dir = tempDir();
    runLeakAndChurn(dir, ['--every', '0.1']);
    files = profilesIn(dir);
    natives = fs.readdirSync(dir).filter((name) => name.endsWith('.native.pb.gz')).map((name) => path.join(dir, name));
  });

  it('-raw and -top succeed on every file with nothing on stderr', (t) => {
    if (missingTool(t, 'go', ['version'])) return;
    assert.ok(files.length >= 4, `expected periodic, final and worker profiles, got ${files.length}`);
    assert.ok(files.some((file) => /-w\d+-/.test(file)), 'a worker profile is among them');
    assert.ok(natives.length >= 2, `native profiles beside the heap ones, got ${natives.length}`);
    for (const file of [...files, ...natives]) {
      for (const mode of ['-raw', '-top']) {
        const result = pprof([mode, file]);
        assert.equal(result.status, 0, `${mode} ${file}: ${result.stderr}`);
        assert.equal(result.stderr, '', `${mode} ${path.basename(file)} printed on stderr:\n${result.stderr}`);
      }
    }
  });

  it('-top ranks the leaking function first in the final profile, and lists the sample types', (t) => {
    if (missingTool(t, 'go', ['version'])) return;
    const final = files.filter((file) => !/-w\d+-/.test(file)).at(-1);
    const top = pprof(['-top', '-cum', '-sample_index=inuse_space', final]);
    assert.equal(top.status, 0, top.stderr);
    // Of the fixture's two workers, the leaking one comes first, holding most of the memory.
    const rows = top.stdout.split('\n').filter((line) => /\s(leakIntoCache|churnGarbage)$/.test(line));
    assert.match(rows[0], /leakIntoCache$/, top.stdout);
    const cumPercent = Number(/([\d.]+)%\s+leakIntoCache$/.exec(rows[0])[1]);
    assert.ok(cumPercent > 70, `leakIntoCache cum ${cumPercent}%`);
    const raw = pprof(['-raw', final]).stdout;
    assert.match(raw, /^inuse_objects\/count inuse_space\/bytes\[dflt\]$/m);
    assert.match(raw, /^PeriodType: space bytes$/m);
    assert.match(raw, /thread_id:\[0\]/);
  });
});
