// serializeProfile turns the model into pprof protobuf bytes; string table and ids are made here only.
import type { Label, Profile, ValueType } from '../model/profile';
import { profileMessageType } from './profile-schema';

/** Interns strings for the string table; index 0 is "" as pprof requires. */
class StringTable {
  readonly strings: string[] = [''];
  private readonly index = new Map<string, number>([['', 0]]);

  id(text: string): number {
    let id = this.index.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.index.set(text, id);
    }
    return id;
  }
}

/** A signed 64-bit value as protobufjs's writer takes it (two 32-bit halves). */
function int64Bits(value: bigint): { low: number; high: number } {
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn), high: Number(bits >> 32n) };
}

/** serializeProfile returns the uncompressed protobuf encoding of the profile. */
export function serializeProfile(profile: Profile): Uint8Array {
  const strings = new StringTable();
  const valueType = (vt: ValueType) => ({ type: strings.id(vt.type), unit: strings.id(vt.unit) });
  const label = (l: Label) => ({
    key: strings.id(l.key),
    str: l.str === undefined ? 0 : strings.id(l.str),
    num: l.num ?? 0,
    numUnit: l.numUnit === undefined ? 0 : strings.id(l.numUnit),
  });

  const message = {
    sampleType: profile.sampleTypes.map(valueType),
    sample: profile.samples.map((s) => ({
      locationId: s.locations.map((l) => l.id),
      value: s.values,
      label: s.labels.map(label),
    })),
    mapping: profile.mappings.map((m) => ({
      id: m.id,
      memoryStart: m.memoryStart,
      memoryLimit: m.memoryLimit,
      fileOffset: m.fileOffset,
      filename: strings.id(m.file),
      buildId: strings.id(m.buildId),
      hasFunctions: m.hasFunctions,
      hasFilenames: m.hasFilenames,
      hasLineNumbers: m.hasLineNumbers,
      hasInlineFrames: m.hasInlineFrames,
    })),
    location: profile.locations.map((l) => ({
      id: l.id,
      mappingId: l.mapping?.id ?? 0,
      address: l.address,
      line: l.lines.map((ln) => ({ functionId: ln.function.id, line: ln.line, column: ln.column })),
      isFolded: l.isFolded,
    })),
    function: profile.functions.map((f) => ({
      id: f.id,
      name: strings.id(f.name),
      systemName: strings.id(f.systemName),
      filename: strings.id(f.filename),
      startLine: f.startLine,
    })),
    dropFrames: strings.id(profile.dropFrames),
    keepFrames: strings.id(profile.keepFrames),
    timeNanos: int64Bits(profile.timeNanos),
    durationNanos: profile.durationNanos,
    periodType: profile.periodType === undefined ? undefined : valueType(profile.periodType),
    period: profile.period,
    comment: profile.comments.map((c) => strings.id(c)),
    defaultSampleType: strings.id(profile.defaultSampleType),
    stringTable: strings.strings,
  };
  return profileMessageType().encode(message).finish();
}
