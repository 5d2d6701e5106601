// serializeProfile writes the model as pprof protobuf; string table and ids are made here only.
import type { Label, Profile, ValueType } from '../model/profile';
import { PROFILE_FIELDS } from './profile-fields';
import { ProtoWriter } from './proto-writer';

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

/**
 * ProfileWriter encodes field by field rather than through protobufjs's reflected encoder: that
 * one needs a plain-object copy of the whole profile and a LongBits object for every int64, which
 * made encoding large profiles 4x slower than @datadog/pprof's. Tests decode the output with
 * protobufjs's reflection of profile.proto.
 */
class ProfileWriter {
  private readonly writer = new ProtoWriter();
  private readonly fields = PROFILE_FIELDS;
  private readonly strings = new StringTable();
  /** Labels already encoded: samples usually share their label objects. */
  private readonly encodedLabels = new Map<Label, Uint8Array>();

  private valueType(field: number, vt: ValueType): void {
    const f = this.fields.ValueType;
    this.writer.begin(field);
    this.writer.number(f.type, this.strings.id(vt.type));
    this.writer.number(f.unit, this.strings.id(vt.unit));
    this.writer.end();
  }

  private encodedLabel(label: Label): Uint8Array {
    let bytes = this.encodedLabels.get(label);
    if (bytes === undefined) {
      const f = this.fields.Label;
      const own = new ProtoWriter(64);
      own.number(f.key, this.strings.id(label.key));
      if (label.str !== undefined) own.number(f.str, this.strings.id(label.str));
      if (label.num !== undefined) own.number(f.num, label.num);
      if (label.numUnit !== undefined) own.number(f.numUnit, this.strings.id(label.numUnit));
      bytes = own.finish();
      this.encodedLabels.set(label, bytes);
    }
    return bytes;
  }

  write(profile: Profile): Uint8Array {
    const { Profile: p, Sample: s, Mapping: m, Location: l, Line: ln, Function: fn } = this.fields;
    const w = this.writer;
    for (const vt of profile.sampleTypes) this.valueType(p.sampleType, vt);
    for (const sample of profile.samples) {
      w.begin(p.sample);
      if (sample.locations.length > 0) {
        w.begin(s.locationId);
        for (const location of sample.locations) w.varint(location.id);
        w.end();
      }
      w.packed(s.value, sample.values);
      for (const label of sample.labels) w.bytes(s.label, this.encodedLabel(label));
      w.end();
    }
    for (const mapping of profile.mappings) {
      w.begin(p.mapping);
      w.number(m.id, mapping.id);
      w.number(m.memoryStart, mapping.memoryStart);
      w.number(m.memoryLimit, mapping.memoryLimit);
      w.number(m.fileOffset, mapping.fileOffset);
      w.number(m.filename, this.strings.id(mapping.file));
      w.number(m.buildId, this.strings.id(mapping.buildId));
      w.bool(m.hasFunctions, mapping.hasFunctions);
      w.bool(m.hasFilenames, mapping.hasFilenames);
      w.bool(m.hasLineNumbers, mapping.hasLineNumbers);
      w.bool(m.hasInlineFrames, mapping.hasInlineFrames);
      w.end();
    }
    for (const location of profile.locations) {
      w.begin(p.location);
      w.number(l.id, location.id);
      w.number(l.mappingId, location.mapping?.id ?? 0);
      w.number(l.address, location.address);
      for (const line of location.lines) {
        w.begin(l.line);
        w.number(ln.functionId, line.function.id);
        w.number(ln.line, line.line);
        w.number(ln.column, line.column);
        w.end();
      }
      w.bool(l.isFolded, location.isFolded);
      w.end();
    }
    for (const f of profile.functions) {
      w.begin(p.function);
      w.number(fn.id, f.id);
      w.number(fn.name, this.strings.id(f.name));
      w.number(fn.systemName, this.strings.id(f.systemName));
      w.number(fn.filename, this.strings.id(f.filename));
      w.number(fn.startLine, f.startLine);
      w.end();
    }
    w.number(p.dropFrames, this.strings.id(profile.dropFrames));
    w.number(p.keepFrames, this.strings.id(profile.keepFrames));
    w.bigint(p.timeNanos, profile.timeNanos);
    w.number(p.durationNanos, profile.durationNanos);
    if (profile.periodType !== undefined) this.valueType(p.periodType, profile.periodType);
    w.number(p.period, profile.period);
    for (const comment of profile.comments) w.number(p.comment, this.strings.id(comment));
    w.number(p.defaultSampleType, this.strings.id(profile.defaultSampleType));
    // Last, once every string above is interned.
    for (const text of this.strings.strings) w.string(p.stringTable, text);
    return w.finish();
  }
}

/** serializeProfile returns the uncompressed protobuf encoding of the profile. */
export function serializeProfile(profile: Profile): Uint8Array {
  return new ProfileWriter().write(profile);
}
