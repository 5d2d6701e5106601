// readProfileFile loads and validates a profile for a CLI command; every failure names the file.
import * as fs from 'node:fs';
import { AllocscopeError } from '../errors';
import { decode } from '../format';
import type { Profile } from '../model/profile';
import { describeIoError } from '../util/io-errors';

/** readProfileFile throws AllocscopeError `<file>: <what is wrong>` for unreadable or invalid files. */
export function readProfileFile(file: string): Profile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new AllocscopeError('ERR_IO', `${file}: ${describeIoError(error)}`, { cause: error });
  }
  try {
    return decode(bytes);
  } catch (error) {
    if (error instanceof AllocscopeError) throw new AllocscopeError(error.code, `${file}: ${error.message}`, { cause: error });
    throw error;
  }
}
