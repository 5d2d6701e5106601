// The only file that loads allocscope.node; everything else reaches native code through `addon()`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeAddon } from './types';

let loaded: NativeAddon | undefined;

/** Where the addon may be: ALLOCSCOPE_ADDON_PATH (e.g. a sanitizer build), then node-gyp's outputs. */
function candidatePaths(): string[] {
  const root = path.join(__dirname, '..', '..');
  const override = process.env['ALLOCSCOPE_ADDON_PATH'];
  if (override) return [path.resolve(override)];
  return ['Release', 'Debug'].map((build) => path.join(root, 'build', build, 'allocscope.node'));
}

/** addon loads the native addon on first use and returns it. */
export function addon(): NativeAddon {
  if (loaded === undefined) {
    const candidates = candidatePaths();
    const found = candidates.find((candidate) => fs.existsSync(candidate));
    if (found === undefined) {
      throw new Error(
        `allocscope: native addon not found (looked in ${candidates.join(', ')}); ` +
          'run `npm install` (or `npm run build`) in the allocscope package to build it with node-gyp',
      );
    }
    loaded = require(found) as NativeAddon;
  }
  return loaded;
}
