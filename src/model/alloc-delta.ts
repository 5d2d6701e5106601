// Turns the cumulative alloc_* columns of successive profiles into values per period, as continuous profilers send them.
import type { Location, Profile } from './profile';

function locationKey(location: Location): string {
  const lines = location.lines.map((l) => `${l.function.name}:${l.function.filename}:${l.line}`).join(';');
  return `${location.mapping?.file ?? ''}@${location.address}@${lines}`;
}

/**
 * AllocDelta remembers the alloc totals of the last profile per stack (by its frames, since ids
 * are per profile) and subtracts them from the next: a profile then says what was allocated
 * during its period, and says so in a comment and in its duration. In-use columns are a state,
 * not a count, and stay as they are. Stacks with nothing in either are left out.
 */
export class AllocDelta {
  private previous = new Map<string, number[]>();
  private previousNanos: bigint | undefined;
  /** Small numbers for locations, stable across profiles: a stack's key is a short list of them. */
  private locationNumbers = new Map<string, number>();
  private nextLocationNumber = 0;

  apply(profile: Profile): Profile {
    const allocColumns = profile.sampleTypes.flatMap((type, index) => (type.type.startsWith('alloc_') ? [index] : []));
    const since = this.previousNanos;
    const current = new Map<string, number[]>();
    // One text key per location of this profile, not per frame of every sample (that was most
    // of a period's block in bench/continuous-block.js).
    const numberOf = new Map<Location, number>();
    const kept = new Map<string, number>();
    for (const location of profile.locations) {
      const text = locationKey(location);
      const number = this.locationNumbers.get(text) ?? this.nextLocationNumber++;
      kept.set(text, number);
      numberOf.set(location, number);
    }
    // The next profile is compared with this one's keys only, which use only this profile's
    // locations: numbers of locations gone from it are never looked up again, and a location
    // that comes back gets a new number (never an old one: the counter only grows), so no key
    // of `previous` can be mistaken for a new stack's.
    this.locationNumbers = kept;
    const samples = profile.samples.flatMap((sample) => {
      const key = sample.locations.map((l) => numberOf.get(l) ?? locationKey(l)).join(',');
      const totals = allocColumns.map((column) => sample.values[column] ?? 0);
      current.set(key, totals);
      const before = this.previous.get(key);
      const values = [...sample.values];
      allocColumns.forEach((column, k) => {
        values[column] = Math.max(0, (totals[k] ?? 0) - (before?.[k] ?? 0));
      });
      return values.some((v) => v !== 0) ? [{ ...sample, values }] : [];
    });
    this.previous = current;
    this.previousNanos = profile.timeNanos;
    if (allocColumns.length === 0) return profile;
    const startNanos = since ?? profile.timeNanos - BigInt(Math.round(profile.durationNanos));
    return {
      ...profile,
      samples,
      durationNanos: Number(profile.timeNanos - startNanos),
      comments: [
        ...profile.comments,
        `alloc_objects and alloc_space are per period: allocations since ${new Date(Number(startNanos / 1_000_000n)).toISOString()} only (delta profile)`,
      ],
    };
  }
}
