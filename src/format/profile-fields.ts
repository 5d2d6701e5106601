// The field numbers the pprof encoder writes, as profile.proto declares them (a test checks each against it).

/**
 * PROFILE_FIELDS holds pprof's wire format: field numbers never change once published. They are
 * written out here rather than read from profile.proto at run time, so that a process that only
 * records never loads protobufjs (its parser and reflection held ~0.8 MB of the application's
 * heap); test/unit/profile-fields.test.js compares every one with profile.proto.
 */
export const PROFILE_FIELDS = {
  Profile: {
    sampleType: 1, sample: 2, mapping: 3, location: 4, function: 5, stringTable: 6, dropFrames: 7, keepFrames: 8,
    timeNanos: 9, durationNanos: 10, periodType: 11, period: 12, comment: 13, defaultSampleType: 14,
  },
  ValueType: { type: 1, unit: 2 },
  Sample: { locationId: 1, value: 2, label: 3 },
  Label: { key: 1, str: 2, num: 3, numUnit: 4 },
  Mapping: {
    id: 1, memoryStart: 2, memoryLimit: 3, fileOffset: 4, filename: 5, buildId: 6,
    hasFunctions: 7, hasFilenames: 8, hasLineNumbers: 9, hasInlineFrames: 10,
  },
  Location: { id: 1, mappingId: 2, address: 3, line: 4, isFolded: 5 },
  Line: { functionId: 1, line: 2, column: 3 },
  Function: { id: 1, name: 2, systemName: 3, filename: 4, startLine: 5 },
} as const;
