// sampleTypeTotal: a profile's total for one sample type, found by name.
import type { Profile } from './profile';

/** sampleTypeTotal sums the values of the sample type named `type` (0 when the profile has no such type). */
export function sampleTypeTotal(profile: Profile, type: string): number {
  const index = profile.sampleTypes.findIndex((t) => t.type === type);
  return index < 0 ? 0 : profile.samples.reduce((sum, s) => sum + (s.values[index] ?? 0), 0);
}
