// ProfileBuilder assembles a Profile, deduplicating functions and locations and numbering them from 1.
import type { Label, Location, Mapping, Profile, ProfileFunction, Sample, ValueType } from './profile';

/** Header fields of a profile under construction; everything but the tables. */
export interface ProfileHeader {
  sampleTypes: ValueType[];
  defaultSampleType: string;
  periodType: ValueType;
  period: number;
  timeNanos: bigint;
  durationNanos: number;
  comments: string[];
}

/** The sample types of Go's heap profiles, in Go's order; a profile may use the inuse_* pair only. */
export const ALLOC_TYPES: ValueType[] = [
  { type: 'alloc_objects', unit: 'count' },
  { type: 'alloc_space', unit: 'bytes' },
];
export const INUSE_TYPES: ValueType[] = [
  { type: 'inuse_objects', unit: 'count' },
  { type: 'inuse_space', unit: 'bytes' },
];

/**
 * heapProfileHeader is the header of a heap profile in Go's convention: period type
 * space/bytes, period = the sampling interval, inuse_space shown by default, the duration
 * since sampling started.
 */
export function heapProfileHeader(fields: {
  sampleTypes: ValueType[];
  intervalBytes: number;
  startNanos: bigint;
  timeNanos: bigint;
  comments: string[];
}): ProfileHeader {
  return {
    sampleTypes: fields.sampleTypes,
    defaultSampleType: 'inuse_space',
    periodType: { type: 'space', unit: 'bytes' },
    period: fields.intervalBytes,
    timeNanos: fields.timeNanos,
    durationNanos: Number(fields.timeNanos - fields.startNanos),
    comments: fields.comments,
  };
}

/** A source position for {@link ProfileBuilder.sourceLocation}. */
export interface SourceFrame {
  name: string;
  filename: string;
  /** The line the function starts on (0 when unknown). */
  startLine: number;
  line: number;
  column: number;
}

/**
 * ProfileBuilder collects samples and interns the functions and locations they use, so that
 * the built profile has no duplicates and ids are dense, starting at 1.
 */
export class ProfileBuilder {
  private readonly mappings: Mapping[] = [];
  private readonly functions: ProfileFunction[] = [];
  private readonly locations: Location[] = [];
  private readonly samples: Sample[] = [];
  private readonly functionsByKey = new Map<string, ProfileFunction>();
  private readonly locationsByKey = new Map<string, Location>();

  constructor(private readonly header: ProfileHeader) {}

  /** addMapping registers a mapping and returns it with its id. */
  addMapping(fields: Omit<Mapping, 'id'>): Mapping {
    const mapping: Mapping = { id: this.mappings.length + 1, ...fields };
    this.mappings.push(mapping);
    return mapping;
  }

  /** sourceFunction returns the one function with this name, file and start line. */
  sourceFunction(name: string, filename: string, startLine: number): ProfileFunction {
    const key = `${name}\0${filename}\0${startLine}`;
    let fn = this.functionsByKey.get(key);
    if (fn === undefined) {
      fn = { id: this.functions.length + 1, name, systemName: name, filename, startLine };
      this.functions.push(fn);
      this.functionsByKey.set(key, fn);
    }
    return fn;
  }

  /** sourceLocation returns the one location for this source frame within the mapping. */
  sourceLocation(frame: SourceFrame, mapping: Mapping | undefined): Location {
    const key = `${frame.name}\0${frame.filename}\0${frame.startLine}\0${frame.line}\0${frame.column}`;
    let location = this.locationsByKey.get(key);
    if (location === undefined) {
      const fn = this.sourceFunction(frame.name, frame.filename, frame.startLine);
      location = {
        id: this.locations.length + 1,
        mapping,
        address: 0,
        lines: [{ function: fn, line: frame.line, column: frame.column }],
        isFolded: false,
      };
      this.locations.push(location);
      this.locationsByKey.set(key, location);
    }
    return location;
  }

  /**
   * addressLocation returns the one location for a native program counter; with a function
   * name it gets one line naming that function, without one (JIT code, stripped objects) none,
   * and pprof shows the address.
   */
  addressLocation(address: number, mapping: Mapping | undefined, functionName: string): Location {
    const key = `@${address}`;
    let location = this.locationsByKey.get(key);
    if (location === undefined) {
      const lines = functionName === '' ? [] : [{ function: this.sourceFunction(functionName, '', 0), line: 0, column: 0 }];
      location = { id: this.locations.length + 1, mapping, address, lines, isFolded: false };
      this.locations.push(location);
      this.locationsByKey.set(key, location);
    }
    return location;
  }

  /** addSample appends a sample; `locations` is leaf first, `values` one per sample type. */
  addSample(locations: Location[], values: number[], labels: Label[] = []): void {
    this.samples.push({ locations, values, labels });
  }

  build(): Profile {
    return {
      ...this.header,
      samples: this.samples,
      mappings: this.mappings,
      locations: this.locations,
      functions: this.functions,
      dropFrames: '',
      keepFrames: '',
    };
  }
}
