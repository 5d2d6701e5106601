// Delivers profiles as files in a directory, named as `allocscope run` names them, keeping the newest within limits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROFILE_FILE_PATTERN, profileFileName } from '../record/file-names';
import { describeIoError } from '../util/io-errors';
import { DeliveryError, type Destination } from './destination';
import { profileKindOf, type ProfilePayload } from './payload';

/** Retention: after each write, the oldest profiles go until at most this many files and bytes remain. */
export interface Retention {
  maxFiles?: number;
  maxBytes?: number;
}

/** writeAtomically writes through a temporary name and a rename: a reader never sees half a file. */
export function writeAtomically(file: string, bytes: Uint8Array): void {
  fs.writeFileSync(`${file}.tmp`, bytes);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * createFileDestination writes each payload synchronously (a few hundred KiB take about a
 * millisecond), so it also delivers at a final exit where nothing asynchronous runs. `id` is
 * how the user wrote the destination; `dir` where it points. The directory is created here:
 * a directory that cannot be made is a configuration error, reported at start.
 */
export function createFileDestination(id: string, dir: string, retention: Retention = {}): Destination {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new Error(`cannot write profiles to ${dir}: ${describeIoError(error)}`, { cause: error });
  }
  const sendSync = (payload: ProfilePayload): void => {
    const name = profileFileName({
      time: new Date(payload.endMs), pid: payload.pid, threadId: payload.threadId, sequence: payload.sequence,
      kind: profileKindOf(payload.heap),
    });
    try {
      writeAtomically(path.join(dir, name), payload.bytes);
    } catch (error) {
      // A full disk may clear up; a permission problem will not.
      const code = (error as NodeJS.ErrnoException).code;
      throw new DeliveryError(`${id}: cannot write ${name}: ${describeIoError(error)}`, code === 'ENOSPC' || code === 'EMFILE', { cause: error });
    }
    if (retention.maxFiles !== undefined || retention.maxBytes !== undefined) enforceRetention(dir, retention);
  };
  return {
    id,
    sendSync,
    send: async (payload) => sendSync(payload),
  };
}

/** enforceRetention deletes the oldest profiles (names sort by time) beyond the limits; other files are left alone. */
function enforceRetention(dir: string, { maxFiles = Infinity, maxBytes = Infinity }: Retention): void {
  const names = fs.readdirSync(dir).filter((name) => PROFILE_FILE_PATTERN.test(name)).sort();
  const sizes = names.map((name) => fileSize(path.join(dir, name)));
  let files = names.length;
  let bytes = sizes.reduce((sum, size) => sum + size, 0);
  for (let i = 0; i < names.length && (files > maxFiles || bytes > maxBytes); i++) {
    try {
      fs.unlinkSync(path.join(dir, names[i] as string));
    } catch {
      // Gone already (another process keeps the same directory): it counted, it is gone.
    }
    files -= 1;
    bytes -= sizes[i] as number;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
