// The in-memory profile model, shaped like pprof's Go `profile` package: objects link to objects, ids live here too.

/** ValueType names one column of sample values, e.g. `inuse_space`/`bytes`. */
export interface ValueType {
  type: string;
  unit: string;
}

/** Label is a string (`str`) or numeric (`num`, with an optional unit) tag on a sample. */
export interface Label {
  key: string;
  str?: string;
  num?: number;
  numUnit?: string;
}

/** Mapping is a loaded binary (or, for JS, the Node executable the code runs in). */
export interface Mapping {
  id: number;
  memoryStart: number;
  memoryLimit: number;
  fileOffset: number;
  file: string;
  buildId: string;
  hasFunctions: boolean;
  hasFilenames: boolean;
  hasLineNumbers: boolean;
  hasInlineFrames: boolean;
}

/** ProfileFunction is a function in source: name, file and the line it starts on. */
export interface ProfileFunction {
  id: number;
  name: string;
  systemName: string;
  filename: string;
  startLine: number;
}

/** Line is one source position in a location; several mean inlined calls, callee first. */
export interface Line {
  function: ProfileFunction;
  line: number;
  column: number;
}

/** Location is one frame of a stack: an address and/or source lines. */
export interface Location {
  id: number;
  mapping: Mapping | undefined;
  address: number;
  lines: Line[];
  isFolded: boolean;
}

/** Sample is one stack (leaf first) with one value per sample type. */
export interface Sample {
  locations: Location[];
  values: number[];
  labels: Label[];
}

/** Profile is a whole pprof profile. Ids are positive and unique per table; 0 is reserved. */
export interface Profile {
  sampleTypes: ValueType[];
  defaultSampleType: string;
  samples: Sample[];
  mappings: Mapping[];
  locations: Location[];
  functions: ProfileFunction[];
  dropFrames: string;
  keepFrames: string;
  /** Time of collection, nanoseconds since the Unix epoch (beyond 2^53, hence bigint). */
  timeNanos: bigint;
  durationNanos: number;
  periodType: ValueType | undefined;
  period: number;
  comments: string[];
}
