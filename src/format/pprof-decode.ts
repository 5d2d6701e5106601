// parseProfile reads pprof protobuf bytes into the model, resolving ids and checking every reference.
import * as protobuf from 'protobufjs';
import { AllocscopeError } from '../errors';
import type { Label, Line, Location, Mapping, Profile, ProfileFunction, ValueType } from '../model/profile';
import { validateProfile } from '../model/validate';
import { profileMessageType } from './profile-schema';

/** An int64 field as protobufjs decodes it: a Long when the `long` package is present. */
type Int64 = number | protobuf.Long;

interface RawValueType { type: Int64; unit: Int64 }
interface RawLabel { key: Int64; str: Int64; num: Int64; numUnit: Int64 }
interface RawSample { locationId: Int64[]; value: Int64[]; label: RawLabel[] }
interface RawMapping {
  id: Int64; memoryStart: Int64; memoryLimit: Int64; fileOffset: Int64; filename: Int64; buildId: Int64;
  hasFunctions: boolean; hasFilenames: boolean; hasLineNumbers: boolean; hasInlineFrames: boolean;
}
interface RawLine { functionId: Int64; line: Int64; column: Int64 }
interface RawLocation { id: Int64; mappingId: Int64; address: Int64; line: RawLine[]; isFolded: boolean }
interface RawFunction { id: Int64; name: Int64; systemName: Int64; filename: Int64; startLine: Int64 }
interface RawProfile {
  sampleType: RawValueType[]; sample: RawSample[]; mapping: RawMapping[]; location: RawLocation[];
  function: RawFunction[]; stringTable: string[]; dropFrames: Int64; keepFrames: Int64; timeNanos: Int64;
  durationNanos: Int64; periodType: RawValueType | null; period: Int64; comment: Int64[]; defaultSampleType: Int64;
}

/**
 * StrictReader fails on a string that runs past the end of the input: protobufjs's Buffer reader
 * cuts such a string short instead, so a profile truncated inside its string table would decode.
 */
class StrictReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    if (start + length > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos += length;
    return (this.buf as Buffer).toString('utf8', start, this.pos);
  }
}

function malformed(message: string, cause?: unknown): AllocscopeError {
  return new AllocscopeError('ERR_MALFORMED_PROFILE', `malformed profile: ${message}`, { cause });
}

/** num reads an int64 as a number: exact below 2^53, which covers every count, size and id. */
function num(value: Int64): number {
  if (typeof value === 'number') return value;
  // uint64 fields (ids, addresses) decode as unsigned Longs: their high half is not a sign.
  const high = value.unsigned ? value.high >>> 0 : value.high;
  return high * 4294967296 + (value.low >>> 0);
}

function bigint(value: Int64): bigint {
  if (typeof value === 'number') return BigInt(value);
  return (BigInt(value.high) << 32n) | BigInt(value.low >>> 0);
}

function resolve<T>(id: Int64, table: Map<number, T>, what: string): T {
  const item = table.get(num(id));
  if (item === undefined) throw malformed(`${what} id ${num(id)} not found`);
  return item;
}

function byId<T extends { id: number }>(items: T[], what: string): Map<number, T> {
  const map = new Map<number, T>();
  for (const item of items) {
    if (map.has(item.id)) throw malformed(`multiple ${what}s with same id: ${item.id}`);
    map.set(item.id, item);
  }
  return map;
}

/**
 * parseProfile decodes uncompressed pprof bytes. It throws AllocscopeError with
 * ERR_MALFORMED_PROFILE when the bytes are not protobuf or reference missing strings, mappings,
 * functions or locations, and ERR_INVALID_PROFILE when the result fails {@link validateProfile}.
 */
export function parseProfile(bytes: Uint8Array): Profile {
  if (bytes.length === 0) throw malformed('empty input');
  let raw: RawProfile;
  try {
    const reader = new StrictReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    raw = profileMessageType().decode(reader) as unknown as RawProfile;
  } catch (error) {
    throw malformed(`not a pprof profile (protobuf decoding failed: ${(error as Error).message})`, error);
  }
  const table = raw.stringTable;
  if (table.length === 0 || table[0] !== '') throw malformed("string_table[0] must be ''");
  const str = (index: Int64): string => {
    const text = table[num(index)];
    if (text === undefined) throw malformed(`string index ${num(index)} out of range (table has ${table.length})`);
    return text;
  };
  const valueType = (vt: RawValueType): ValueType => ({ type: str(vt.type), unit: str(vt.unit) });
  const label = (l: RawLabel): Label => {
    const result: Label = { key: str(l.key) };
    if (num(l.str) !== 0) result.str = str(l.str);
    else result.num = num(l.num);
    if (num(l.numUnit) !== 0) result.numUnit = str(l.numUnit);
    return result;
  };

  const mappings = raw.mapping.map(
    (m): Mapping => ({
      id: num(m.id), memoryStart: num(m.memoryStart), memoryLimit: num(m.memoryLimit),
      fileOffset: num(m.fileOffset), file: str(m.filename), buildId: str(m.buildId),
      hasFunctions: m.hasFunctions, hasFilenames: m.hasFilenames,
      hasLineNumbers: m.hasLineNumbers, hasInlineFrames: m.hasInlineFrames,
    }),
  );
  const functions = raw.function.map(
    (f): ProfileFunction => ({
      id: num(f.id), name: str(f.name), systemName: str(f.systemName),
      filename: str(f.filename), startLine: num(f.startLine),
    }),
  );
  const mappingById = byId(mappings, 'mapping');
  const functionById = byId(functions, 'function');
  const locations = raw.location.map((l): Location => {
    const mappingId = num(l.mappingId);
    const mapping = mappingId === 0 ? undefined : mappingById.get(mappingId);
    if (mappingId !== 0 && mapping === undefined) throw malformed(`mapping id ${mappingId} not found`);
    const lines = l.line.map((ln): Line => {
      return { function: resolve(ln.functionId, functionById, 'function'), line: num(ln.line), column: num(ln.column) };
    });
    return { id: num(l.id), mapping, address: num(l.address), lines, isFolded: l.isFolded };
  });
  const locationById = byId(locations, 'location');

  const profile: Profile = {
    sampleTypes: raw.sampleType.map(valueType),
    defaultSampleType: str(raw.defaultSampleType),
    samples: raw.sample.map((s) => ({
      locations: s.locationId.map((id) => resolve(id, locationById, 'location')),
      values: s.value.map(num),
      labels: s.label.map(label),
    })),
    mappings,
    locations,
    functions,
    dropFrames: str(raw.dropFrames),
    keepFrames: str(raw.keepFrames),
    timeNanos: bigint(raw.timeNanos),
    durationNanos: num(raw.durationNanos),
    periodType: raw.periodType ? valueType(raw.periodType) : undefined,
    period: num(raw.period),
    comments: raw.comment.map(str),
  };
  validateProfile(profile);
  return profile;
}
