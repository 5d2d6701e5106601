// Finds the periodic profiles in directories or file lists and groups them into series: one process, thread and kind each, in time order.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AllocscopeError } from '../errors';
import type { Profile } from '../model/profile';
import { parseProfileFileName, type ProfileFileNameParts } from '../record/file-names';
import { describeIoError } from '../util/io-errors';
import type { SeriesPoint } from './leaks';

export interface NamedFile {
  file: string;
  parts: ProfileFileNameParts;
  /** Found in a directory, not given by name: a reader skips it when it cannot be read. */
  inDirectory: boolean;
}

/** Series: the profiles of one kind from one process and thread, oldest first. */
export interface Series {
  kind: ProfileFileNameParts['kind'];
  pid: number;
  threadId: number;
  files: NamedFile[];
}

/**
 * findSeries lists every profile in the directories and the files given, and groups them. A file
 * given by name must be named as allocscope names profiles (the time in the name orders the
 * series); other files in a directory are passed over.
 */
export function findSeries(args: readonly string[], command: string): Series[] {
  const series = new Map<string, Series>();
  for (const named of profileFiles(args, command)) {
    const { kind, pid, threadId } = named.parts;
    const key = `${pid}/${threadId}/${kind}`;
    let entry = series.get(key);
    if (entry === undefined) {
      entry = { kind, pid, threadId, files: [] };
      series.set(key, entry);
    }
    entry.files.push(named);
  }
  for (const entry of series.values()) {
    entry.files.sort((a, b) => a.parts.time.getTime() - b.parts.time.getTime() || a.parts.sequence - b.parts.sequence);
  }
  return [...series.values()];
}

function profileFiles(args: readonly string[], command: string): NamedFile[] {
  const files: NamedFile[] = [];
  for (const arg of args) {
    let isDirectory: boolean;
    try {
      isDirectory = fs.statSync(arg).isDirectory();
    } catch (error) {
      throw new AllocscopeError('ERR_IO', `${arg}: ${describeIoError(error)}`, { cause: error });
    }
    for (const file of isDirectory ? fs.readdirSync(arg).sort().map((n) => path.join(arg, n)) : [arg]) {
      const parts = parseProfileFileName(path.basename(file));
      if (parts !== undefined) {
        files.push({ file, parts, inDirectory: isDirectory });
      } else if (!isDirectory) {
        throw new AllocscopeError('ERR_USAGE', `${command}: ${file}: not named as allocscope names profiles (<time>-pid<pid>-<seq>.<kind>.pb.gz); the time in the name orders the series`);
      }
    }
  }
  return files;
}

/**
 * readSeries reads each profile of a series with `read`, which names the file in its errors. One
 * found in a directory that cannot be read (an AllocscopeError) goes to `skip` and is left out: a
 * service keeps writing there, and one damaged file should not hide the rest. One given by name
 * is an error.
 */
export function readSeries(series: Series, read: (file: string) => Profile, skip: (error: AllocscopeError) => void): (SeriesPoint & { file: string })[] {
  return series.files.flatMap((f) => {
    try {
      return [{ file: f.file, timeMs: f.parts.time.getTime(), profile: read(f.file) }];
    } catch (error) {
      if (!f.inDirectory || !(error instanceof AllocscopeError)) throw error;
      skip(error);
      return [];
    }
  });
}
