// How JS frames are named in every profile, JS heap and native alike: paths for files, places for anonymous functions.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** displayFile turns ESM `file://` URLs into paths; other script names pass through. */
export function displayFile(scriptName: string): string {
  if (!scriptName.startsWith('file://')) return scriptName;
  try {
    return fileURLToPath(scriptName);
  } catch {
    return scriptName.slice('file://'.length);
  }
}

/** functionName names anonymous functions by place, `(anonymous) file.js:12`, so people can find them. */
export function functionName(name: string, file: string, line: number): string {
  if (name !== '') return name;
  if (file === '') return '(anonymous)';
  return `(anonymous) ${path.basename(file)}:${line}`;
}
