// Tests ProtoWriter (src/format/proto-writer.ts) against protobufjs's Reader: varints at every size boundary, nested lengths, strings, growth.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { Reader, util } = require('protobufjs');
const { ProtoWriter } = require('../../dist/format/proto-writer');

/** readVarintField reads the tag of a message's first field: its number, wire type, and the reader after it. */
function readVarintField(bytes) {
  const reader = Reader.create(bytes);
  const tag = reader.uint32();
  return { field: tag >>> 3, wireType: tag & 7, reader };
}

/** int64Of reads an int64 varint as a Number (protobufjs gives a Long for 64-bit values). */
function int64Of(reader) {
  const value = reader.int64();
  return typeof value === 'number' ? value : util.LongBits.from(value).toNumber(false);
}

describe('ProtoWriter', () => {
  it('writes varints that protobufjs reads back, at every byte-length boundary and for negative int64s', () => {
    const values = [1, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7,
      2 ** 49 + 3, Number.MAX_SAFE_INTEGER, -1, -2, -(2 ** 31), -(2 ** 32) - 5, Number.MIN_SAFE_INTEGER];
    for (const value of values) {
      const writer = new ProtoWriter(16);
      writer.number(3, value);
      const { field, wireType, reader } = readVarintField(writer.finish());
      assert.deepEqual([field, wireType], [3, 0], `value ${value}`);
      assert.equal(int64Of(reader), value, `value ${value}`);
      assert.equal(reader.pos, reader.len, `value ${value}: nothing after it`);
    }
  });

  it('leaves out zero numbers and false bools, as proto3 does, and writes true as 1', () => {
    const writer = new ProtoWriter();
    writer.number(1, 0);
    writer.bool(2, false);
    writer.bigint(3, 0n);
    writer.packed(4, []);
    assert.equal(writer.finish().length, 0);
    const withTrue = new ProtoWriter();
    withTrue.bool(5, true);
    assert.deepEqual([...withTrue.finish()], [5 << 3, 1]);
  });

  it('writes bigint int64s (nanosecond timestamps) exactly, beyond 2^53', () => {
    for (const value of [1n, 1_732_000_000_123_456_789n, 2n ** 63n - 1n, -1n, -(2n ** 63n)]) {
      const writer = new ProtoWriter();
      writer.bigint(7, value);
      const { reader } = readVarintField(writer.finish());
      const read = reader.int64();
      assert.equal(BigInt.asIntN(64, (BigInt(read.high >>> 0) << 32n) | BigInt(read.low >>> 0)), value);
    }
  });

  it('writes integers beyond 2^53 as the nearest int64 (clamped to its range) and refuses fractions', () => {
    const cases = [[2 ** 60, 2n ** 60n], [-(2 ** 60), -(2n ** 60n)], [2 ** 63, 2n ** 63n - 1n], [1e300, 2n ** 63n - 1n], [-1e300, -(2n ** 63n)]];
    for (const [value, expected] of cases) {
      const writer = new ProtoWriter();
      writer.number(1, value);
      const { reader } = readVarintField(writer.finish());
      const read = reader.int64();
      assert.equal(BigInt.asIntN(64, (BigInt(read.high >>> 0) << 32n) | BigInt(read.low >>> 0)), expected, `value ${value}`);
    }
    assert.throws(() => new ProtoWriter().number(1, 1.5), /cannot encode 1.5 as a protobuf varint: not an integer/);
    assert.throws(() => new ProtoWriter().number(1, Number.NaN), /cannot encode NaN as a protobuf varint/);
  });

  it('closes nested messages whose contents need a one- to three-byte length', () => {
    // The inner message holds a bytes field of this many bytes, plus its tag and length: its
    // contents cross the 128- and 16,384-byte lengths, where the reserved length byte is too short.
    for (const innerBytes of [0, 1, 124, 125, 126, 127, 16379, 16380, 16381, 70_000]) {
      const writer = new ProtoWriter(8);
      writer.number(1, 42);
      writer.begin(2); // outer
      writer.begin(3); // inner: a string of innerBytes bytes inside
      writer.bytes(4, new Uint8Array(innerBytes).fill(0xab));
      writer.end();
      writer.number(5, 7);
      writer.end();
      writer.number(6, 9);
      const reader = Reader.create(writer.finish());
      assert.equal(reader.uint32(), (1 << 3) | 0);
      assert.equal(reader.uint32(), 42);
      assert.equal(reader.uint32(), (2 << 3) | 2);
      const outerEnd = reader.uint32() + reader.pos;
      assert.equal(reader.uint32(), (3 << 3) | 2);
      const innerEnd = reader.uint32() + reader.pos;
      assert.equal(reader.uint32(), (4 << 3) | 2);
      const inner = reader.bytes();
      assert.equal(inner.length, innerBytes);
      assert.ok(inner.every((b) => b === 0xab), `inner ${innerBytes}: its bytes moved intact`);
      assert.equal(reader.pos, innerEnd);
      assert.equal(reader.uint32(), (5 << 3) | 0, `inner ${innerBytes}`);
      assert.equal(reader.uint32(), 7);
      assert.equal(reader.pos, outerEnd, `inner ${innerBytes}: the outer length covers exactly its contents`);
      assert.equal(reader.uint32(), (6 << 3) | 0);
      assert.equal(reader.uint32(), 9);
      assert.equal(reader.pos, reader.len);
    }
  });

  it('writes packed varints and UTF-8 strings (multi-byte characters counted in bytes)', () => {
    const writer = new ProtoWriter(4);
    writer.packed(1, [0, 1, 300, 2 ** 40]);
    writer.string(2, '');
    writer.string(3, 'héllo → 世界 🎉');
    writer.bytes(4, Uint8Array.from([1, 2, 3]));
    const reader = Reader.create(writer.finish());
    assert.equal(reader.uint32(), (1 << 3) | 2);
    const end = reader.uint32() + reader.pos;
    const packed = [];
    while (reader.pos < end) packed.push(int64Of(reader));
    assert.deepEqual(packed, [0, 1, 300, 2 ** 40]);
    assert.equal(reader.uint32(), (2 << 3) | 2);
    assert.equal(reader.string(), '');
    assert.equal(reader.uint32(), (3 << 3) | 2);
    assert.equal(reader.string(), 'héllo → 世界 🎉');
    assert.equal(reader.uint32(), (4 << 3) | 2);
    assert.deepEqual([...reader.bytes()], [1, 2, 3]);
    assert.equal(reader.pos, reader.len);
  });

  it('grows past its first buffer without losing what was written', () => {
    const writer = new ProtoWriter(1);
    for (let i = 0; i < 50_000; i++) {
      writer.begin(1);
      writer.number(2, i * 1_000_003 + 1);
      writer.end();
    }
    const reader = Reader.create(writer.finish());
    for (let i = 0; i < 50_000; i++) {
      assert.equal(reader.uint32(), (1 << 3) | 2);
      reader.uint32();
      assert.equal(reader.uint32(), (2 << 3) | 0);
      assert.equal(int64Of(reader), i * 1_000_003 + 1);
    }
    assert.equal(reader.pos, reader.len);
  });

  it('says so when end() and begin() do not pair up', () => {
    assert.throws(() => new ProtoWriter().end(), /end\(\) without begin\(\)/);
    const open = new ProtoWriter();
    open.begin(1);
    assert.throws(() => open.finish(), /1 fields still open/);
  });
});
