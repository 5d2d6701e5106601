// Loads the pprof message types from profile.proto once; the only place that reads the schema.
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

let root: protobuf.Root | undefined;

function schema(): protobuf.Root {
  root ??= protobuf.loadSync(path.join(__dirname, 'profile.proto'));
  return root;
}

/** profileMessageType returns protobufjs's reflected `perftools.profiles.Profile` type. */
export function profileMessageType(): protobuf.Type {
  return schema().lookupType('perftools.profiles.Profile');
}

/** The fields the encoder writes, by message; profileFieldNumbers checks profile.proto has each. */
const ENCODED_FIELDS = {
  Profile: ['sampleType', 'sample', 'mapping', 'location', 'function', 'stringTable', 'dropFrames', 'keepFrames',
    'timeNanos', 'durationNanos', 'periodType', 'period', 'comment', 'defaultSampleType'],
  ValueType: ['type', 'unit'],
  Sample: ['locationId', 'value', 'label'],
  Label: ['key', 'str', 'num', 'numUnit'],
  Mapping: ['id', 'memoryStart', 'memoryLimit', 'fileOffset', 'filename', 'buildId', 'hasFunctions', 'hasFilenames',
    'hasLineNumbers', 'hasInlineFrames'],
  Location: ['id', 'mappingId', 'address', 'line', 'isFolded'],
  Line: ['functionId', 'line', 'column'],
  Function: ['id', 'name', 'systemName', 'filename', 'startLine'],
} as const;

/** Field numbers by message and (camelCase) field name, as profile.proto declares them. */
export type FieldNumbers = { [M in keyof typeof ENCODED_FIELDS]: Record<(typeof ENCODED_FIELDS)[M][number], number> };

let fieldNumbers: FieldNumbers | undefined;

/** profileFieldNumbers reads the field numbers from profile.proto through protobufjs's reflection. */
export function profileFieldNumbers(): FieldNumbers {
  if (fieldNumbers === undefined) {
    const result: Record<string, Record<string, number>> = {};
    for (const [message, names] of Object.entries(ENCODED_FIELDS)) {
      const type = schema().lookupType(`perftools.profiles.${message}`);
      result[message] = Object.fromEntries(
        names.map((name) => {
          const field = type.fields[name];
          if (field === undefined) throw new Error(`profile.proto: ${message} has no field ${name}`);
          return [name, field.id];
        }),
      );
    }
    fieldNumbers = result as FieldNumbers;
  }
  return fieldNumbers;
}
