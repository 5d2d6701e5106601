// Copies the non-TypeScript files the compiled package needs into dist/ (the .proto and the ESM entry).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const copies = [
  ['src/format/profile.proto', 'dist/format/profile.proto'],
  ['src/index.mjs', 'dist/index.mjs'],
];
for (const [from, to] of copies) {
  fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
  fs.copyFileSync(path.join(root, from), path.join(root, to));
}
