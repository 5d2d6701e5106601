// ProtoWriter writes protobuf's wire format into one growing Buffer, allocating nothing per field.

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const TWO_TO_32 = 4294967296;
const INT64_LIMIT = 2 ** 63;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * A profile is written once a period by code that is still cold. protobufjs's Writer keeps an
 * object per written field (and per open message) until finish(): encoding took ~35 ms of a
 * collection's ~60 on a service's main thread (docs/performance.md). This writes bytes as it
 * goes. A length-delimited field reserves one byte for its length and, in the rare case that its
 * contents reach 128 bytes, moves them up to make room for a longer varint.
 */
export class ProtoWriter {
  private buffer: Buffer;
  private length = 0;
  /** Where the contents of each open length-delimited field begin (just after its length byte). */
  private readonly open: number[] = [];

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** A varint field, left out when 0 as proto3 does; any integer (negative: as int64; see varint). */
  number(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** A bool field, left out when false. */
  bool(field: number, value: boolean): void {
    if (!value) return;
    this.tag(field, VARINT);
    this.byte(1);
  }

  /** An int64 field given as a bigint (timestamps in nanoseconds), left out when 0. */
  bigint(field: number, value: bigint): void {
    if (value === 0n) return;
    this.tag(field, VARINT);
    this.bigintVarint(value);
  }

  /** A string field, written even when empty (pprof's string table starts with ""). */
  string(field: number, text: string): void {
    this.tag(field, LENGTH_DELIMITED);
    const bytes = Buffer.byteLength(text);
    this.varint(bytes);
    this.reserve(bytes);
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** A length-delimited field holding bytes already encoded. */
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(data.length);
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  /** A packed repeated varint field, left out when empty. */
  packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.begin(field);
    for (const value of values) this.varint(value);
    this.end();
  }

  /** begin opens a length-delimited field (an embedded message or a packed list); end() closes it. */
  begin(field: number): void {
    this.tag(field, LENGTH_DELIMITED);
    this.byte(0); // the length, if it fits in one byte
    this.open.push(this.length);
  }

  end(): void {
    const start = this.open.pop();
    if (start === undefined) throw new Error('ProtoWriter.end() without begin()');
    const size = this.length - start;
    const extra = varintSize(size) - 1;
    if (extra > 0) {
      this.reserve(extra);
      this.buffer.copyWithin(start + extra, start, this.length);
      this.length += extra;
    }
    const end = this.length;
    this.length = start - 1;
    this.varint(size);
    this.length = end;
  }

  /** finish returns the bytes written; the writer must not be used afterwards. */
  finish(): Buffer {
    if (this.open.length > 0) throw new Error(`ProtoWriter.finish() with ${this.open.length} fields still open`);
    return this.buffer.subarray(0, this.length);
  }

  /**
   * A varint: non-negative values as they are, negative ones as int64's two's complement (10
   * bytes). Integers beyond 2^53 (a decoded int64 that a Number could not hold exactly) are
   * written as the nearest int64.
   */
  varint(value: number): void {
    if (value >>> 0 === value) { // an integer in [0, 2^32)
      this.reserve(5);
      let rest = value;
      while (rest > 127) {
        this.buffer[this.length++] = (rest & 127) | 128;
        rest >>>= 7;
      }
      this.buffer[this.length++] = rest;
      return;
    }
    if (Number.isSafeInteger(value)) {
      const high = Math.floor(value / TWO_TO_32);
      this.varint64((value - high * TWO_TO_32) >>> 0, high >>> 0);
      return;
    }
    if (!Number.isInteger(value)) throw new RangeError(`cannot encode ${value} as a protobuf varint: not an integer`);
    this.bigintVarint(value >= INT64_LIMIT ? INT64_MAX : value < -INT64_LIMIT ? INT64_MIN : BigInt(value));
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** An int64 varint from a bigint in int64's range (negative: two's complement). */
  private bigintVarint(value: bigint): void {
    const bits = BigInt.asUintN(64, value);
    this.varint64(Number(bits & 0xffffffffn), Number(bits >> 32n));
  }

  /** A 64-bit varint from its unsigned 32-bit halves. */
  private varint64(low: number, high: number): void {
    this.reserve(10);
    let lo = low;
    let hi = high;
    while (hi !== 0) {
      this.buffer[this.length++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      this.buffer[this.length++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    this.buffer[this.length++] = lo;
  }

  /** reserve makes room for `bytes` more, doubling the buffer when it is short. */
  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** varintSize is the bytes a varint of a non-negative 32-bit value takes. */
function varintSize(value: number): number {
  let size = 1;
  for (let rest = value >>> 7; rest !== 0; rest >>>= 7) size++;
  return size;
}
