// Maps positions in generated JS (TypeScript output, bundles) back to the original sources, through the files' own source maps.
import * as fs from 'node:fs';
import { SourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OriginalPosition {
  file: string;
  /** 1-based, as profiles number lines. */
  line: number;
  column: number;
}

/** The largest generated file whose map comment is looked for: reading megabytes per script would stall a profile. */
const MAX_SCRIPT_BYTES = 16 * 1024 * 1024;
const MAP_COMMENT = /\/\/[#@] sourceMappingURL=([^\s'"]+)\s*$/;
/**
 * allocscope's own scripts (this package's dist/). Their frames, the profiler's own allocations
 * at a collection, keep their generated positions: the parsed maps of the dozen files that show
 * up held 0.77 MB of the application's JS heap for the life of the process.
 */
const OWN_SCRIPTS = path.resolve(__dirname, '..') + path.sep;

/**
 * SourceMaps finds a script's map the way Node's --enable-source-maps does, from the
 * `//# sourceMappingURL=` comment at its end (a file next to it, or an inline data: URL), and
 * caches it per script. It reads the files only when a profile is built, not while the
 * application runs, and does not turn Node's own source map support on (that would change the
 * application's stack traces). A script without a map, or with one that cannot be read, keeps
 * its generated positions.
 */
export class SourceMaps {
  private readonly maps = new Map<string, { map: SourceMap; dir: string } | undefined>();

  originalPosition(script: string, line: number, column: number): OriginalPosition | undefined {
    const found = this.mapOf(script);
    if (found === undefined || line < 1) return undefined;
    const entry = found.map.findEntry(line - 1, Math.max(0, column - 1)) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
    if (entry.originalSource === undefined || entry.originalLine === undefined) return undefined;
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : path.resolve(found.dir, entry.originalSource);
    return { file: source, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
  }

  private mapOf(script: string): { map: SourceMap; dir: string } | undefined {
    if (script.startsWith(OWN_SCRIPTS)) return undefined;
    if (this.maps.has(script)) return this.maps.get(script);
    let found: { map: SourceMap; dir: string } | undefined;
    try {
      found = readMap(script);
    } catch {
      found = undefined; // no map, or a broken one: generated positions are still right
    }
    this.maps.set(script, found);
    return found;
  }
}

function readMap(script: string): { map: SourceMap; dir: string } | undefined {
  if (!path.isAbsolute(script) || fs.statSync(script).size > MAX_SCRIPT_BYTES) return undefined;
  const tail = fs.readFileSync(script, 'utf8').trimEnd().split('\n').at(-1) ?? '';
  const url = MAP_COMMENT.exec(tail)?.[1];
  if (url === undefined) return undefined;
  const inline = /^data:application\/json(?:;charset=[^;,]+)?;base64,(.*)$/.exec(url);
  const mapFile = inline === null ? path.resolve(path.dirname(script), decodeURIComponent(url)) : undefined;
  const text = inline !== null ? Buffer.from(inline[1] as string, 'base64').toString('utf8') : fs.readFileSync(mapFile as string, 'utf8');
  const payload = JSON.parse(text) as { sourceRoot?: string };
  const dir = path.resolve(path.dirname(mapFile ?? script), payload.sourceRoot ?? '');
  return { map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]), dir };
}

/** One cache per thread: profiles of successive periods find the maps read already. */
export const threadSourceMaps = new SourceMaps();
