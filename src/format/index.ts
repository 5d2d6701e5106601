// encode and decode: the public pprof file functions (gzipped protobuf, validated on the way in).
import type { Profile } from '../model/profile';
import { gunzipIfNeeded, gzip, gzipAsync } from './gzip';
import { parseProfile } from './pprof-decode';
import { serializeProfile } from './pprof-encode';

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
  return parseProfile(gunzipIfNeeded(bytes));
}
