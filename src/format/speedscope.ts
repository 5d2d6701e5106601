// toSpeedscope writes a profile in Speedscope's own JSON file format: one sampled profile per sample type.
import { AllocscopeError } from '../errors';
import type { Location, Profile, ValueType } from '../model/profile';
import { sampleIndexOf } from '../report/top';
import { VERSION } from '../version';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

/** SpeedscopeFrame is an entry of `shared.frames`; file and line are left out when unknown. */
export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
}

/** SpeedscopeUnit is the schema's FileFormat.ValueUnit. */
export type SpeedscopeUnit = 'bytes' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'none';

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  /** Stacks as indexes into `shared.frames`, root first. */
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
  name: string;
  activeProfileIndex: number;
  exporter: string;
}

/** Units Speedscope can format; anything else (counts) is shown as a plain number. */
const UNITS: ReadonlySet<string> = new Set(['bytes', 'nanoseconds', 'microseconds', 'milliseconds', 'seconds']);

function unitOf(type: ValueType): SpeedscopeUnit {
  return UNITS.has(type.unit) ? (type.unit as SpeedscopeUnit) : 'none';
}

/**
 * toSpeedscope converts every sample type into a "sampled" profile over shared frames, with the
 * profile's default type active. Throws AllocscopeError ERR_USAGE when a sample type has
 * negative values (a diff profile): Speedscope rejects negative weights, and taking magnitudes
 * would show a shrinking function as a growing one.
 */
export function toSpeedscope(profile: Profile, name: string): SpeedscopeFile {
  if (profile.sampleTypes.length === 0) {
    throw new AllocscopeError('ERR_INVALID_PROFILE', 'the profile has no sample types: nothing to convert');
  }
  profile.sampleTypes.forEach((type, index) => {
    if (profile.samples.some((sample) => (sample.values[index] ?? 0) < 0)) {
      throw new AllocscopeError(
        'ERR_USAGE',
        `speedscope cannot show negative weights, and ${type.type} has negative values (a diff profile?): convert the profiles it was made from instead`,
      );
    }
  });

  // Speedscope merges by frame (its index) in the Sandwich view and the flame graph, so there is
  // one frame per function, keyed by name, file and start line as its own pprof import does:
  // keying on the line within the function would split a function into one row per line.
  const frames: SpeedscopeFrame[] = [];
  const frameIndexByKey = new Map<string, number>();
  const frameIndex = (frameName: string, file: string, line: number): number => {
    const key = `${frameName}\0${file}\0${line}`;
    let index = frameIndexByKey.get(key);
    if (index === undefined) {
      index = frames.length;
      const frame: SpeedscopeFrame = { name: frameName };
      if (file !== '') frame.file = file;
      if (line > 0) frame.line = line;
      frames.push(frame);
      frameIndexByKey.set(key, index);
    }
    return index;
  };
  // A location's frames, leaf first (inlined callees come first among its lines, as in pprof).
  const framesOfLocation = new Map<Location, number[]>();
  const locationFrames = (location: Location): number[] => {
    let found = framesOfLocation.get(location);
    if (found === undefined) {
      found = location.lines.length === 0
        // An unsymbolized native frame: its address, and the binary it lies in.
        ? [frameIndex(`0x${location.address.toString(16)}`, location.mapping?.file ?? '', 0)]
        : location.lines.map((line) => frameIndex(line.function.name, line.function.filename, line.function.startLine));
      framesOfLocation.set(location, found);
    }
    return found;
  };

  const stacks = profile.samples.map((sample) => sample.locations.flatMap(locationFrames).reverse());
  const profiles = profile.sampleTypes.map((type, index): SpeedscopeSampledProfile => {
    const samples: number[][] = [];
    const weights: number[] = [];
    let total = 0;
    profile.samples.forEach((sample, s) => {
      const value = sample.values[index] ?? 0;
      if (value === 0) return; // nothing to draw, and it would only make the file bigger
      samples.push(stacks[s] as number[]);
      weights.push(value);
      total += value;
    });
    return { type: 'sampled', name: type.type, unit: unitOf(type), startValue: 0, endValue: total, samples, weights };
  });

  return {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: { frames },
    profiles,
    name,
    activeProfileIndex: sampleIndexOf(profile, undefined),
    exporter: `allocscope ${VERSION}`,
  };
}
