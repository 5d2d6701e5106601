// serializeProfile writes the model as pprof protobuf with protobufjs's Writer; string table and ids are made here only.
import { Writer } from 'protobufjs';
import type { Label, Profile, ValueType } from '../model/profile';
import { profileFieldNumbers } from './profile-schema';

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

const VARINT = 0;
const LENGTH_DELIMITED = 2;

/**
 * ProfileWriter encodes field by field rather than through protobufjs's reflected encoder: that
 * one needs a plain-object copy of the whole profile and a LongBits object for every int64, which
 * made encoding large profiles 4x slower than @datadog/pprof's. The field numbers still come
 * from profile.proto through protobufjs's reflection, and tests decode the output with it.
 */
class ProfileWriter {
  private readonly writer = Writer.create();
  private readonly fields = profileFieldNumbers();

  /**
   * @param strings the profile's string table, shared with writers of its parts
   * @param encodedLabels labels already encoded: samples usually share their label objects
   */
  constructor(
    readonly strings = new StringTable(),
    private readonly encodedLabels = new Map<Label, Uint8Array>(),
  ) {}

  /** A varint; the uint32 path avoids protobufjs's LongBits allocation for the common small values. */
  private varint(value: number): void {
    if (value >= 0 && value <= 0xffffffff) this.writer.uint32(value);
    else this.writer.int64(value);
  }

  /** A varint field, left out when 0 as proto3 does. */
  private number(field: number, value: number): void {
    if (value === 0) return;
    this.writer.uint32((field << 3) | VARINT);
    this.varint(value);
  }

  private bool(field: number, value: boolean): void {
    if (value) this.writer.uint32((field << 3) | VARINT).bool(true);
  }

  private begin(field: number): void {
    this.writer.uint32((field << 3) | LENGTH_DELIMITED).fork();
  }

  private end(): void {
    this.writer.ldelim();
  }

  private packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.begin(field);
    for (const value of values) this.varint(value);
    this.end();
  }

  private valueType(field: number, vt: ValueType): void {
    const f = this.fields.ValueType;
    this.begin(field);
    this.number(f.type, this.strings.id(vt.type));
    this.number(f.unit, this.strings.id(vt.unit));
    this.end();
  }

  private encodedLabel(label: Label): Uint8Array {
    let bytes = this.encodedLabels.get(label);
    if (bytes === undefined) {
      const f = this.fields.Label;
      const own = new ProfileWriter(this.strings);
      own.number(f.key, this.strings.id(label.key));
      if (label.str !== undefined) own.number(f.str, this.strings.id(label.str));
      if (label.num !== undefined) own.number(f.num, label.num);
      if (label.numUnit !== undefined) own.number(f.numUnit, this.strings.id(label.numUnit));
      bytes = own.writer.finish();
      this.encodedLabels.set(label, bytes);
    }
    return bytes;
  }

  write(profile: Profile): Uint8Array {
    const { Profile: p, Sample: s, Mapping: m, Location: l, Line: ln, Function: fn } = this.fields;
    for (const vt of profile.sampleTypes) this.valueType(p.sampleType, vt);
    // Each sample is finished in its own writer and added as bytes: protobufjs keeps an object per
    // written field until finish(), and for a whole profile those objects outlived the young
    // generation, so garbage collection took most of the time. Finished at once, they die young.
    const w = new ProfileWriter(this.strings, this.encodedLabels);
    for (const sample of profile.samples) {
      if (sample.locations.length > 0) {
        w.begin(s.locationId);
        for (const location of sample.locations) w.varint(location.id);
        w.end();
      }
      w.packed(s.value, sample.values);
      for (const label of sample.labels) w.writer.uint32((s.label << 3) | LENGTH_DELIMITED).bytes(this.encodedLabel(label));
      this.writer.uint32((p.sample << 3) | LENGTH_DELIMITED).bytes(w.writer.finish());
      w.writer.reset(); // finish() does not empty a protobufjs Writer
    }
    for (const mapping of profile.mappings) {
      this.begin(p.mapping);
      this.number(m.id, mapping.id);
      this.number(m.memoryStart, mapping.memoryStart);
      this.number(m.memoryLimit, mapping.memoryLimit);
      this.number(m.fileOffset, mapping.fileOffset);
      this.number(m.filename, this.strings.id(mapping.file));
      this.number(m.buildId, this.strings.id(mapping.buildId));
      this.bool(m.hasFunctions, mapping.hasFunctions);
      this.bool(m.hasFilenames, mapping.hasFilenames);
      this.bool(m.hasLineNumbers, mapping.hasLineNumbers);
      this.bool(m.hasInlineFrames, mapping.hasInlineFrames);
      this.end();
    }
    for (const location of profile.locations) {
      this.begin(p.location);
      this.number(l.id, location.id);
      this.number(l.mappingId, location.mapping?.id ?? 0);
      this.number(l.address, location.address);
      for (const line of location.lines) {
        this.begin(l.line);
        this.number(ln.functionId, line.function.id);
        this.number(ln.line, line.line);
        this.number(ln.column, line.column);
        this.end();
      }
      this.bool(l.isFolded, location.isFolded);
      this.end();
    }
    for (const f of profile.functions) {
      this.begin(p.function);
      this.number(fn.id, f.id);
      this.number(fn.name, this.strings.id(f.name));
      this.number(fn.systemName, this.strings.id(f.systemName));
      this.number(fn.filename, this.strings.id(f.filename));
      this.number(fn.startLine, f.startLine);
      this.end();
    }
    this.number(p.dropFrames, this.strings.id(profile.dropFrames));
    this.number(p.keepFrames, this.strings.id(profile.keepFrames));
    // protobufjs's int64 takes anything with low and high 32-bit halves, as a Long has.
    if (profile.timeNanos !== 0n) this.writer.uint32((p.timeNanos << 3) | VARINT).int64(int64Bits(profile.timeNanos) as unknown as number);
    this.number(p.durationNanos, profile.durationNanos);
    if (profile.periodType !== undefined) this.valueType(p.periodType, profile.periodType);
    this.number(p.period, profile.period);
    for (const comment of profile.comments) this.number(p.comment, this.strings.id(comment));
    this.number(p.defaultSampleType, this.strings.id(profile.defaultSampleType));
    // Last, once every string above is interned.
    for (const text of this.strings.strings) this.writer.uint32((p.stringTable << 3) | LENGTH_DELIMITED).string(text);
    return this.writer.finish();
  }
}

/** A signed 64-bit value as protobufjs's writer takes it (two 32-bit halves). */
function int64Bits(value: bigint): { low: number; high: number } {
  const bits = BigInt.asUintN(64, value);
  return { low: Number(bits & 0xffffffffn), high: Number(bits >> 32n) };
}

/** serializeProfile returns the uncompressed protobuf encoding of the profile. */
export function serializeProfile(profile: Profile): Uint8Array {
  return new ProfileWriter().write(profile);
}
