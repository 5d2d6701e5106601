// How JS frames are named in every profile, JS heap and native alike: paths for files, original sources through source maps, places for anonymous functions.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceFrame } from './builder';
import { type SourceMaps, threadSourceMaps } from './source-maps';

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

/**
 * jsSourceFrame names a JS frame from what V8 reports (function name, script, line and column of
 * the function): the script as a path, and, when the script has a source map, the original file
 * and line, so that TypeScript and bundled code show where the team wrote it.
 */
export function jsSourceFrame(rawName: string, script: string, line: number, column: number, sourceMaps: SourceMaps = threadSourceMaps): SourceFrame {
  let file = displayFile(script);
  const original = sourceMaps.originalPosition(file, line, column);
  if (original !== undefined) {
    file = original.file;
    line = original.line;
    column = original.column;
  }
  return { name: functionName(rawName, file, line), filename: file, startLine: line, line, column };
}
