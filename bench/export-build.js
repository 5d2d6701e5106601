// Exports one commit of allocscope to a directory outside the checkout and builds it there, for ALLOCSCOPE_BENCH_ROOT.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { ROOT } = require('./lib/env');

const USAGE = `Usage: node bench/export-build.js [--commit REV] [--dir DIR]

Long benchmark runs load allocscope from dist/ and build/Release/; a rebuild of the checkout during
a run (node-gyp rebuild deletes build/ first) makes trials fail or mixes builds. This exports REV
(default HEAD) with \`git archive\` into DIR (default $TMPDIR/allocscope-bench-<commit>), links the
checkout's node_modules, builds the addon (npm's bundled node-gyp) and dist/ (tsc), and prints
the line to prefix benchmark commands with:

  ALLOCSCOPE_BENCH_ROOT=DIR node bench/native-workload.js ...

Uncommitted changes are not exported: commit them, or benchmark the checkout itself.`;

const { spawnSync } = require('node:child_process');

/** run runs a build step quietly; its output is shown only when it fails. */
function run(command, args, cwd) {
  const res = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, JOBS: process.env.JOBS || 'max' }, maxBuffer: 64 * 1024 * 1024 });
  if (res.error || res.status !== 0) {
    throw new Error(`${path.basename(args[0] ?? command)} failed in ${cwd} (${res.error ? res.error.message : `exit ${res.status}`})\n${res.stdout ?? ''}${res.stderr ?? ''}`);
  }
}

function main() {
  const { values } = parseArgs({
    options: { commit: { type: 'string', default: 'HEAD' }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const commit = execFileSync('git', ['rev-parse', '--short', values.commit], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = path.resolve(values.dir ?? path.join(os.tmpdir(), `allocscope-bench-${commit}`));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', commit], { cwd: ROOT, maxBuffer: 1024 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  fs.writeFileSync(path.join(dir, '.git-commit'), `${commit}\n`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const { findNodeGyp, nodedirArgs } = require('./fixtures/malloc-loop/build');
  const started = Date.now();
  run(process.execPath, [findNodeGyp(), 'rebuild', ...nodedirArgs()], dir);
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
  run(process.execPath, [path.join('scripts', 'copy-assets.js')], dir);
  console.error(`built allocscope ${commit} in ${dir} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`ALLOCSCOPE_BENCH_ROOT=${dir}`);
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
