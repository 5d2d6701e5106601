// `npm run demo`: profiles the leaky example service with `allocscope run` and prints where its memory is.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const outDir = path.join(root, 'allocscope-profiles', 'demo');
fs.rmSync(outDir, { recursive: true, force: true });

const step = (args) => {
  console.log(`\n$ allocscope ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

step(['run', '--out', path.relative(root, outDir), '--', 'node', 'examples/leaky-cache.js']);
const newest = fs.readdirSync(outDir).filter((name) => name.endsWith('.heap.pb.gz')).sort().pop();
if (newest === undefined) {
  console.error('demo: no profile was written');
  process.exit(1);
}
step(['top', '--nodes', '8', path.relative(root, path.join(outDir, newest))]);
console.log('\ngetItem holds most of the memory in use: its cache entries never expire (see examples/leaky-cache.js).');
