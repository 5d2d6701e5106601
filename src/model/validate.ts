// validateProfile enforces the rules of pprof's Profile.CheckValid on the model.
import { AllocscopeError } from '../errors';
import type { Location, Mapping, Profile, ProfileFunction } from './profile';

function invalid(message: string): AllocscopeError {
  return new AllocscopeError('ERR_INVALID_PROFILE', `invalid profile: ${message}`);
}

function indexById<T extends { id: number }>(items: readonly (T | undefined)[], kind: string): Map<number, T> {
  const byId = new Map<number, T>();
  for (const item of items) {
    if (item == null) throw invalid(`profile has nil ${kind}`);
    if (item.id === 0) throw invalid(`found ${kind} with reserved id=0`);
    if (byId.has(item.id)) throw invalid(`multiple ${kind}s with same id: ${item.id}`);
    byId.set(item.id, item);
  }
  return byId;
}

/**
 * validateProfile throws an AllocscopeError (ERR_INVALID_PROFILE) when the profile breaks a
 * rule of pprof's CheckValid: samples without sample types, a sample whose value count differs
 * from the sample types, missing (nil) entries, ids that are 0 or repeated, and locations or
 * lines that point at a mapping or function that is not the one in the profile's table.
 */
export function validateProfile(profile: Profile): void {
  const typeCount = profile.sampleTypes.length;
  if (typeCount === 0 && profile.samples.length !== 0) throw invalid('missing sample type information');
  for (const sample of profile.samples) {
    if (sample == null) throw invalid('profile has nil sample');
    if (sample.values.length !== typeCount) {
      throw invalid(`mismatch: sample has ${sample.values.length} values vs. ${typeCount} types`);
    }
    for (const location of sample.locations) {
      if (location == null) throw invalid('sample has nil location');
    }
  }

  const mappings = indexById<Mapping>(profile.mappings, 'mapping');
  const functions = indexById<ProfileFunction>(profile.functions, 'function');
  const locations = indexById<Location>(profile.locations, 'location');
  for (const location of locations.values()) {
    const mapping = location.mapping;
    // A missing mapping (undefined, or null from plain JS) means "no mapping", as in pprof.
    if (mapping != null && (mapping.id === 0 || mappings.get(mapping.id) !== mapping)) {
      throw invalid(`location id ${location.id} has inconsistent mapping id ${mapping.id}`);
    }
    for (const line of location.lines) {
      const fn = line.function;
      if (fn == null) throw invalid(`location id ${location.id} has a line with nil function`);
      if (fn.id === 0 || functions.get(fn.id) !== fn) {
        throw invalid(`location id ${location.id} has inconsistent function id ${fn.id}`);
      }
    }
  }
  for (const sample of profile.samples) {
    for (const location of sample.locations) {
      if (locations.get(location.id) !== location) {
        throw invalid(`sample has location id ${location.id} that is not in the location table`);
      }
    }
  }
}
