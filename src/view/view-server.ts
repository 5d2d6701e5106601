// The local web server of `allocscope view`: Speedscope (from its npm package) on a profile, or a directory's timeline and leak suspects.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { readProfileFile, withFileName } from '../cli/read-profile';
import { AllocscopeError } from '../errors';
import { toSpeedscope } from '../format/speedscope';
import type { Profile } from '../model/profile';
import { sampleTypeTotal } from '../model/totals';
import { PROFILE_FILE_PATTERN, type ProfileKind } from '../record/file-names';
import { type LeakSuspect, leakSuspects, MIN_POINTS, rankSuspects } from '../report/leaks';
import { findSeries, readSeries } from '../report/series';
import { overviewPage, type TimelineSeries } from './overview-page';

export interface ViewServer {
  url: string;
  close(): Promise<void>;
}

const PANELS: { kind: ProfileKind; title: string; type: string }[] = [
  { kind: 'heap', title: 'JS heap in use', type: 'inuse_space' },
  { kind: 'native', title: 'Native memory in use', type: 'inuse_space' },
  { kind: 'handles', title: 'Active handles and requests', type: 'resources' },
];

/** speedscopeRelease finds the viewer's files in the speedscope package; it is a dependency, but say how to fix it if it went missing. */
function speedscopeRelease(): string {
  try {
    return path.dirname(require.resolve('speedscope/dist/release/index.html'));
  } catch (error) {
    throw new AllocscopeError('ERR_IO', 'allocscope view needs the speedscope package next to allocscope: npm install speedscope', { cause: error });
  }
}

/** flameGraphUrl opens a served profile in Speedscope (relative: the page and the profile share the origin). */
function flameGraphUrl(name: string): string {
  return `/speedscope/index.html#profileURL=${encodeURIComponent(`/profiles/${name}.json`)}&title=${encodeURIComponent(name)}`;
}

/**
 * ProfileCache decodes each file once (a directory page reads every profile in it); files are
 * named by time and pid and written whole, so a name with the same size is the same profile.
 */
class ProfileCache {
  private readonly cache = new Map<string, { size: number; profile: Profile }>();

  read(file: string): Profile {
    const size = fs.statSync(file, { throwIfNoEntry: false })?.size;
    const cached = this.cache.get(file);
    if (cached !== undefined && cached.size === size) return cached.profile;
    // A file gone since the directory was listed (no size) is readProfileFile's to report.
    const profile = readProfileFile(file);
    if (size !== undefined) this.cache.set(file, { size, profile });
    return profile;
  }
}

/** overview builds the directory page from the profiles there now (so reloading shows new periods); `skip` hears of each profile it cannot read. */
function overview(dir: string, profiles: ProfileCache, skip: (error: AllocscopeError) => void): string {
  const notes: string[] = [];
  const all = findSeries([dir], 'view').map((series) => ({
    series,
    profiles: readSeries(series, (file) => profiles.read(file), (error) => {
      notes.push(`skipped ${error.message}`);
      skip(error);
    }),
  }));
  const panels = PANELS.map(({ kind, title, type }) => ({
    title,
    series: all.filter((s) => s.series.kind === kind).map((s): TimelineSeries => ({
      label: `pid ${s.series.pid}${s.series.threadId === 0 ? '' : ` worker ${s.series.threadId}`}`,
      unit: s.profiles[0]?.profile.sampleTypes.find((t) => t.type === type)?.unit ?? '',
      points: s.profiles.map((p) => ({ timeMs: p.timeMs, value: sampleTypeTotal(p.profile, type) })),
    })),
  }));
  const suspects: LeakSuspect[] = [];
  const newest = new Map<string, string>();
  for (const { series, profiles: points } of all) {
    const last = points.at(-1);
    if (last !== undefined) newest.set(`${series.kind}/${series.pid}/${series.threadId}`, path.basename(last.file));
    if (points.length >= MIN_POINTS) suspects.push(...leakSuspects(series.kind, points, series));
  }
  if (!all.some((s) => s.profiles.length >= MIN_POINTS)) {
    notes.push(`not enough data for leak suspects: they need at least ${MIN_POINTS} periodic profiles of a kind from one process (allocscope run --every SECONDS)`);
  }
  const fileKind: Record<LeakSuspect['kind'], ProfileKind> = { js: 'heap', native: 'native', handles: 'handles' };
  return overviewPage({
    title: `allocscope: ${dir}`,
    panels,
    suspects: rankSuspects(suspects),
    flameGraphUrl: (s) => {
      const name = newest.get(`${fileKind[s.kind]}/${s.pid}/${s.threadId}`);
      return name === undefined ? undefined : flameGraphUrl(name);
    },
    notes,
  });
}

/**
 * startViewServer serves `target` (a profile file or a directory of them) on 127.0.0.1 only:
 * profiles can hold paths and names a team would not publish. Only Speedscope's own files and
 * profiles of the target are served, by name, never by a path from the request.
 */
export async function startViewServer(target: string, port: number, warn: (message: string) => void): Promise<ViewServer> {
  const release = speedscopeRelease();
  const isDirectory = fs.statSync(target).isDirectory();
  const dir = isDirectory ? target : path.dirname(target);
  const profiles = new ProfileCache();
  const warned = new Set<string>();
  const skip = (error: AllocscopeError): void => {
    if (warned.has(error.message)) return;
    warned.add(error.message);
    warn(`skipped ${error.message}`);
  };
  // Whatever cannot be shown is said now, on the terminal, not later in the browser.
  if (isDirectory) overview(dir, profiles, skip);
  else withFileName(target, () => toSpeedscope(profiles.read(target), path.basename(target)));
  const servedName = (name: string): string | undefined => {
    if (isDirectory ? !PROFILE_FILE_PATTERN.test(name) : name !== path.basename(target)) return undefined;
    return path.join(dir, name);
  };

  const server = http.createServer((request, response) => {
    const send = (status: number, type: string, body: string | Buffer): void => {
      response.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' }).end(body);
    };
    try {
      const { pathname } = new URL(request.url ?? '/', 'http://127.0.0.1');
      if (pathname === '/') {
        if (!isDirectory) {
          response.writeHead(302, { location: flameGraphUrl(path.basename(target)) }).end();
          return;
        }
        send(200, 'text/html; charset=utf-8', overview(dir, profiles, skip));
        return;
      }
      const profile = /^\/profiles\/([^/]+)\.json$/.exec(pathname);
      if (profile !== null) {
        const file = servedName(decodeURIComponent(profile[1] as string));
        if (file === undefined || !fs.existsSync(file)) {
          send(404, 'text/plain', 'no such profile\n');
          return;
        }
        send(200, 'application/json', JSON.stringify(toSpeedscope(profiles.read(file), path.basename(file))));
        return;
      }
      if (pathname.startsWith('/speedscope/')) {
        const file = path.join(release, path.normalize(pathname.slice('/speedscope'.length)));
        if (!file.startsWith(release + path.sep) || !fs.existsSync(file)) {
          send(404, 'text/plain', 'not found\n');
          return;
        }
        send(200, contentType(file), fs.readFileSync(file));
        return;
      }
      send(404, 'text/plain', 'not found\n');
    } catch (error) {
      send(500, 'text/plain', `${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new AllocscopeError('ERR_IO', error.code === 'EADDRINUSE' ? `port ${port} is in use; choose another with --port, or 0 for any` : error.message, { cause: error })));
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.wasm': 'application/wasm', '.txt': 'text/plain',
};

function contentType(file: string): string {
  return CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream';
}
