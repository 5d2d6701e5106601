// encode and decode: the public pprof file functions (gzipped protobuf, validated on the way in).
import { AllocscopeError } from '../errors';
import type { Profile } from '../model/profile';
import { compressionOf, gunzipIfNeeded, gzip, gzipAsync } from './gzip';
import { serializeProfile } from './pprof-encode';

/**
 * The decoder and protobufjs under it load on the first decode: a process that only records
 * profiles (`-r allocscope/register`, startContinuous) never decodes, and would carry their
 * modules and ~0.8 MB of heap for nothing.
 */
function parseProfile(bytes: Uint8Array): Profile {
  return (require('./pprof-decode') as typeof import('./pprof-decode')).parseProfile(bytes);
}

/** encode returns the profile as a gzipped pprof file, as `go tool pprof` reads it. */
export function encode(profile: Profile): Buffer {
  return gzip(serializeProfile(profile));
}

/** encodeAsync is encode with the compression off the event loop (the serialization stays on it). */
export function encodeAsync(profile: Profile): Promise<Buffer> {
  return gzipAsync(serializeProfile(profile));
}

/**
 * decode reads a pprof file (gzipped or not) and validates it. It throws AllocscopeError:
 * ERR_NOT_GZIP for broken gzip, ERR_MALFORMED_PROFILE for bytes that are not a consistent
 * profile, ERR_INVALID_PROFILE for one that breaks pprof's CheckValid rules.
 */
export function decode(bytes: Uint8Array): Profile {
  const inflated = gunzipIfNeeded(bytes);
  try {
    return parseProfile(inflated);
  } catch (error) {
    // Bytes that are no profile may be one compressed another way: say which, not what protobuf made of them.
    const compression = compressionOf(inflated);
    if (compression === undefined || !(error instanceof AllocscopeError)) throw error;
    const where = inflated === bytes ? '' : ' inside gzip';
    throw new AllocscopeError('ERR_MALFORMED_PROFILE', `not a pprof profile: the data is ${compression}-compressed${where}; decompress it to a pprof file (gzipped once, or not at all)`, { cause: error });
  }
}
