// The default service name: the nearest package.json's name above the main script, else the script's name.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function defaultServiceName(script: string | undefined = process.argv[1]): string {
  if (script === undefined || script === '') return 'node';
  let dir = path.dirname(path.resolve(script));
  for (;;) {
    try {
      const name = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
      if (typeof name === 'string' && name !== '') return name;
    } catch {
      // No package.json here, or not one we can read: look further up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.basename(script).replace(/\.[cm]?[jt]s$/, '') || 'node';
}
