// allocscope's own version, read from package.json so there is one place to change it.
import * as fs from 'node:fs';
import * as path from 'node:path';

const packageJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
};

/** VERSION is allocscope's package version, written into every profile's comments. */
export const VERSION: string = packageJson.version;
