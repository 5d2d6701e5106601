// readProfileFile loads and validates a profile for a CLI command; every failure names the file.
import * as fs from 'node:fs';
import { AllocscopeError } from '../errors';
import { decode } from '../format';
import { MAX_PROFILE_BYTES } from '../format/gzip';
import type { Profile } from '../model/profile';
import { describeIoError } from '../util/io-errors';

/** withFileName runs `work`, and names `file` in front of the message of an AllocscopeError it throws that does not name it: every complaint about a profile says which. */
export function withFileName<T>(file: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof AllocscopeError && !error.message.includes(file)) {
      throw new AllocscopeError(error.code, `${file}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

const CHUNK_BYTES = 1 << 20;

/**
 * readAtMost reads the whole file, or returns undefined when it is larger than `limit`: a regular
 * file by its size, before reading; anything else (a pipe, /dev/zero) as soon as it streams more.
 */
function readAtMost(file: string, limit: number): Buffer | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isFile()) return stat.size > limit ? undefined : fs.readFileSync(fd);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      const read = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) return Buffer.concat(chunks, total);
      total += read;
      if (total > limit) return undefined;
      chunks.push(chunk.subarray(0, read));
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** readProfileFile throws AllocscopeError `<file>: <what is wrong>` for unreadable, oversized, invalid or empty profiles. */
export function readProfileFile(file: string): Profile {
  let bytes: Buffer | undefined;
  try {
    bytes = readAtMost(file, MAX_PROFILE_BYTES);
  } catch (error) {
    throw new AllocscopeError('ERR_IO', `${file}: ${describeIoError(error)}`, { cause: error });
  }
  if (bytes === undefined) {
    throw new AllocscopeError('ERR_MALFORMED_PROFILE', `${file}: larger than ${MAX_PROFILE_BYTES / 2 ** 20} MiB, the most allocscope reads; is it a profile?`);
  }
  const profile = withFileName(file, () => decode(bytes));
  // Valid for pprof, but every command shows or compares sample values, and there are none.
  if (profile.sampleTypes.length === 0) throw new AllocscopeError('ERR_INVALID_PROFILE', `${file}: the profile has no sample types: nothing to show`);
  return profile;
}
