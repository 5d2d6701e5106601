// Tests encode()/decode() (src/format/index.ts) and the pprof encoder, decoder and gzip framing under them.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { encode, encodeAsync, decode } = require('../../dist/format');
const { serializeProfile } = require('../../dist/format/pprof-encode');
const { parseProfile } = require('../../dist/format/pprof-decode');
const { isGzip, gunzipIfNeeded } = require('../../dist/format/gzip');
const { profileMessageType } = require('../../dist/format/profile-schema');
const { validateProfile } = require('../../dist/model/validate');
const { AllocscopeError } = require('../../dist/errors');
const { TIME_NANOS, buildRichProfile, buildTopProfile, seededRandom } = require('../support/profiles');

/** expectError checks `fn` throws an AllocscopeError with `code` and a message matching `pattern`. */
function expectError(fn, code, pattern) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof AllocscopeError, `expected AllocscopeError, got ${error && error.stack}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

/** rawBytes encodes a plain object with the pprof schema, bypassing allocscope's encoder. */
function rawBytes(message) {
  return profileMessageType().encode(message).finish();
}

/** A minimal well-formed raw message: strings '', 'objects', 'count', 'f', 'f.js'. */
function rawMessage(overrides = {}) {
  return {
    sampleType: [{ type: 1, unit: 2 }],
    sample: [{ locationId: [1], value: [5] }],
    mapping: [{ id: 1, filename: 4, hasFunctions: true }],
    location: [{ id: 1, mappingId: 1, line: [{ functionId: 1, line: 3 }] }],
    function: [{ id: 1, name: 3, systemName: 3, filename: 4, startLine: 2 }],
    stringTable: ['', 'objects', 'count', 'f', 'f.js'],
    ...overrides,
  };
}

describe('encode() / decode()', () => {
  describe('round trip', () => {
    const original = buildRichProfile();
    const decoded = decode(encode(original));

    it('preserves the whole profile', () => {
      assert.deepStrictEqual(decoded, original);
    });

    it('preserves header fields: sample types, default, period, comments, drop/keep frames', () => {
      assert.deepEqual(decoded.sampleTypes, [
        { type: 'inuse_objects', unit: 'count' },
        { type: 'inuse_space', unit: 'bytes' },
      ]);
      assert.equal(decoded.defaultSampleType, 'inuse_space');
      assert.deepEqual(decoded.periodType, { type: 'space', unit: 'bytes' });
      assert.equal(decoded.period, 524288);
      assert.deepEqual(decoded.comments, ['allocscope test', 'with "quotes" and ünïcode']);
      assert.equal(decoded.dropFrames, 'node:internal/.*');
      assert.equal(decoded.keepFrames, 'keep.*');
      assert.equal(decoded.durationNanos, 5000000123);
    });

    it('keeps timeNanos as a bigint with full nanosecond precision beyond 2^53', () => {
      assert.equal(typeof decoded.timeNanos, 'bigint');
      assert.equal(decoded.timeNanos, TIME_NANOS);
      assert.ok(TIME_NANOS > 2n ** 53n);
      const later = buildTopProfile({ timeNanos: TIME_NANOS + 1n });
      assert.equal(decode(encode(later)).timeNanos, 1700000000123456790n);
    });

    it('preserves sample values, including negative ones and 2^53-1', () => {
      assert.deepEqual(decoded.samples.map((s) => s.values), [[3, 3072], [-2, -1536], [1, 9007199254740991]]);
    });

    it('preserves string labels and numeric labels with and without numUnit', () => {
      assert.deepStrictEqual(decoded.samples[0].labels, [
        { key: 'thread_id', str: '1' },
        { key: 'request_bytes', num: 4096, numUnit: 'bytes' },
        { key: 'count', num: -7 },
      ]);
      assert.deepStrictEqual(decoded.samples[1].labels, [{ key: 'thread_id', str: '2' }]);
      assert.deepStrictEqual(decoded.samples[2].labels, []);
    });

    it('preserves mappings, build id and flags included', () => {
      assert.deepStrictEqual(decoded.mappings[1], {
        id: 2, memoryStart: 0x400000, memoryLimit: 0x7fff00001000, fileOffset: 0x1000, file: '/lib/libc.so.6',
        buildId: 'abcdef0123456789', hasFunctions: false, hasFilenames: true, hasLineNumbers: false, hasInlineFrames: true,
      });
      assert.equal(decoded.mappings[0].hasFunctions, true);
      assert.equal(decoded.mappings[0].hasInlineFrames, false);
    });

    it('preserves locations: address, folding, lines with columns, inlined lines in order', () => {
      const malloc = decoded.locations.find((l) => l.lines[0].function.name === 'malloc');
      assert.equal(malloc.address, 0x7fff00000abc);
      assert.equal(malloc.isFolded, true);
      assert.equal(malloc.mapping, decoded.mappings[1]);
      const inlined = decoded.locations.find((l) => l.lines.length === 2);
      assert.equal(inlined.mapping, undefined);
      assert.deepEqual(inlined.lines.map((l) => [l.function.name, l.line, l.column]), [['inner', 31, 2], ['outer', 44, 6]]);
      const rec = decoded.locations.filter((l) => l.lines[0].function.name === 'recurse');
      assert.deepEqual(rec.map((l) => [l.lines[0].line, l.lines[0].column]), [[11, 5], [14, 9]]);
    });

    it('links decoded objects to the table objects (shared identity, so validateProfile passes)', () => {
      const [first] = decoded.samples;
      assert.equal(first.locations[1], first.locations[3]);
      assert.ok(first.locations.every((l) => decoded.locations.includes(l)));
      const rec = decoded.locations.filter((l) => l.lines[0].function.name === 'recurse');
      assert.equal(rec[0].lines[0].function, rec[1].lines[0].function);
      assert.ok(decoded.functions.includes(rec[0].lines[0].function));
      assert.doesNotThrow(() => validateProfile(decoded));
    });

    it('preserves functions: name, systemName, filename, startLine', () => {
      assert.deepEqual(decoded.functions.map((f) => [f.id, f.name, f.systemName, f.filename, f.startLine]), [
        [1, 'main', 'main', '/app/main.js', 1], [2, 'recurse', 'recurse', '/app/lib.js', 10],
        [3, 'malloc', 'malloc', '', 0], [4, 'inner', 'inner', '/app/lib.js', 30], [5, 'outer', 'outer', '/app/lib.js', 40],
      ]);
    });
  });

  describe('framing', () => {
    it('encode() returns gzip (magic 1f 8b) that inflates to serializeProfile() output', () => {
      const profile = buildRichProfile();
      const bytes = encode(profile);
      assert.ok(Buffer.isBuffer(bytes));
      assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
      assert.ok(isGzip(bytes));
      assert.deepEqual(new Uint8Array(zlib.gunzipSync(bytes)), new Uint8Array(serializeProfile(profile)));
    });

    it('encodeAsync() (the addon gzips on the threadpool) writes the same bytes as encode()', async () => {
      const profile = buildRichProfile();
      const bytes = await encodeAsync(profile);
      assert.ok(Buffer.isBuffer(bytes));
      assert.deepEqual(new Uint8Array(bytes), new Uint8Array(encode(profile)));
      assert.deepStrictEqual(decode(bytes), profile);
    });

    it("the addon's gzip round-trips empty and multi-megabyte inputs, and many at once", async () => {
      const { addon } = require('../../dist/native/bindings');
      const random = seededRandom(5);
      // Incompressible noise runs between repeats: deflate's worst case is covered, not only text.
      const big = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i % 4096 < 2048 ? i & 0xff : Math.floor(random() * 256)));
      const inputs = [new Uint8Array(0), big, ...Array.from({ length: 16 }, (_, i) => big.subarray(i * 1000, i * 1000 + 70_000 + i))];
      const outputs = await Promise.all(inputs.map((input) => addon().gzip(input, 1)));
      outputs.forEach((output, i) => assert.deepEqual(new Uint8Array(zlib.gunzipSync(output)), inputs[i], `input ${i}`));
    });

    it("the addon's gzip refuses anything but a Uint8Array and a level 0-9, synchronously", () => {
      const { addon } = require('../../dist/native/bindings');
      assert.throws(() => addon().gzip('text', 1), { name: 'TypeError', message: /expects a Uint8Array and a number/ });
      assert.throws(() => addon().gzip(new Uint16Array(4), 1), { name: 'TypeError' });
      assert.throws(() => addon().gzip(new Uint8Array(4)), { name: 'TypeError' });
      assert.throws(() => addon().gzip(new Uint8Array(4), 10), { name: 'RangeError', message: /level must be 0 to 9/ });
      assert.throws(() => addon().gzip(new Uint8Array(4), -1), { name: 'RangeError' });
    });

    it('decode() accepts uncompressed protobuf (serializeProfile output)', () => {
      const profile = buildTopProfile();
      const raw = serializeProfile(profile);
      assert.ok(!isGzip(raw));
      assert.deepStrictEqual(decode(raw), profile);
    });

    it('gunzipIfNeeded() passes non-gzip bytes through untouched', () => {
      const bytes = new Uint8Array([0x0a, 0x02, 0x08, 0x01]);
      assert.equal(gunzipIfNeeded(bytes), bytes);
      assert.equal(isGzip(new Uint8Array([0x1f])), false);
    });

    it('writes a string table starting with "" and without duplicates', () => {
      const raw = profileMessageType().decode(zlib.gunzipSync(encode(buildRichProfile())));
      const table = raw.stringTable;
      assert.equal(table[0], '');
      assert.equal(new Set(table).size, table.length, `duplicates in ${JSON.stringify(table)}`);
      for (const s of ['inuse_space', 'bytes', '/app/lib.js', 'recurse', 'thread_id', 'abcdef0123456789', 'keep.*']) {
        assert.ok(table.includes(s), `string table lacks ${s}`);
      }
    });
  });

  describe('errors', () => {
    it('reads uint64 values at or above 2^63 as large positive numbers, not negative ones', () => {
      const Long = require('long');
      const raw = profileMessageType().encode({
        mapping: [{ id: 1, memoryStart: Long.fromString('18446744069414584320', true), memoryLimit: Long.fromString('9223372036854775808', true) }],
        stringTable: [''],
      }).finish();
      const [mapping] = parseProfile(raw).mappings;
      assert.equal(mapping.memoryStart, 18446744069414584320);
      assert.equal(mapping.memoryLimit, 2 ** 63);
    });

    it('refuses a profile that inflates beyond the limit, saying so rather than calling it corrupt', () => {
      const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024));
      expectError(() => gunzipIfNeeded(bomb, 1024), 'ERR_MALFORMED_PROFILE', /^profile inflates to more than 1024 bytes; refusing to read it$/);
      assert.equal(gunzipIfNeeded(bomb, 64 * 1024).length, 64 * 1024);
    });

    it('rejects empty input', () => {
      expectError(() => decode(new Uint8Array(0)), 'ERR_MALFORMED_PROFILE', /^malformed profile: empty input$/);
    });

    it('rejects junk text bytes as not a pprof profile, keeping the protobuf error', () => {
      const junk = Buffer.from('hello, this is not a profile\n');
      expectError(() => decode(junk), 'ERR_MALFORMED_PROFILE', /not a pprof profile \(protobuf decoding failed: .+\)/);
      assert.throws(() => decode(junk), (error) => error.cause instanceof Error && error.message.includes(error.cause.message));
    });

    it('rejects junk that happens to parse as protobuf', () => {
      expectError(() => decode(Buffer.from('GIF89a')), 'ERR_MALFORMED_PROFILE', /^malformed profile: /);
    });

    it('rejects gzip magic followed by garbage', () => {
      const bytes = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('garbage, not deflate')]);
      expectError(() => decode(bytes), 'ERR_NOT_GZIP', /^corrupt gzip data: .+/);
      assert.throws(() => decode(bytes), (error) => error.cause instanceof Error && error.message.endsWith(error.cause.message));
    });

    it('rejects truncated gzip at several offsets', () => {
      const bytes = encode(buildRichProfile());
      for (const end of [2, 10, 30, Math.floor(bytes.length / 2), bytes.length - 4, bytes.length - 1]) {
        expectError(() => decode(bytes.subarray(0, end)), 'ERR_NOT_GZIP', /^corrupt gzip data: unexpected end of file/);
      }
    });

    it('rejects protobuf truncated inside the tables', { timeout: 10000 }, () => {
      const raw = serializeProfile(buildRichProfile());
      for (const end of [1, 2, 7, 20, Math.floor(raw.length / 3), Math.floor(raw.length / 2)]) {
        expectError(() => decode(raw.subarray(0, end)), 'ERR_MALFORMED_PROFILE', /^malformed profile: /);
      }
    });

    it('never throws anything but AllocscopeError for protobuf truncated at any offset', { timeout: 10000 }, () => {
      const raw = serializeProfile(buildRichProfile());
      let rejected = 0;
      for (let end = 1; end < raw.length; end++) {
        try {
          validateProfile(decode(raw.subarray(0, end)));
        } catch (error) {
          assert.ok(error instanceof AllocscopeError, `offset ${end}: ${error && error.stack}`);
          assert.equal(error.code, 'ERR_MALFORMED_PROFILE', `offset ${end}: ${error.message}`);
          rejected++;
        }
      }
      assert.ok(rejected > raw.length / 2, `only ${rejected} of ${raw.length} truncations rejected`);
    });

    it('rejects a string table not starting with ""', () => {
      const bytes = rawBytes(rawMessage({ stringTable: ['objects', 'count', 'f', 'f.js', 'x'] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /string_table\[0\] must be ''/);
    });

    it('rejects a message without a string table', () => {
      const bytes = rawBytes({ period: 1 });
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /string_table\[0\] must be ''/);
    });

    it('rejects a string index out of range, naming the index and the table size', () => {
      const bytes = rawBytes(rawMessage({ function: [{ id: 1, name: 9, filename: 4 }] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /string index 9 out of range \(table has 5\)/);
    });

    it('rejects a location referencing an unknown mapping id', () => {
      const bytes = rawBytes(rawMessage({ location: [{ id: 1, mappingId: 7, line: [{ functionId: 1, line: 3 }] }] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /mapping id 7 not found/);
    });

    it('rejects a line referencing an unknown function id', () => {
      const bytes = rawBytes(rawMessage({ location: [{ id: 1, mappingId: 1, line: [{ functionId: 8, line: 3 }] }] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /function id 8 not found/);
    });

    it('rejects a sample referencing an unknown location id', () => {
      const bytes = rawBytes(rawMessage({ sample: [{ locationId: [1, 6], value: [5] }] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /location id 6 not found/);
    });

    it('rejects duplicate location ids', () => {
      const loc = { id: 1, mappingId: 1, line: [{ functionId: 1, line: 3 }] };
      const bytes = rawBytes(rawMessage({ location: [loc, { ...loc, address: 16 }] }));
      expectError(() => decode(bytes), 'ERR_MALFORMED_PROFILE', /multiple locations with same id: 1/);
    });

    it('accepts the hand-crafted base message (so the error cases above differ only in their flaw)', () => {
      const profile = decode(rawBytes(rawMessage()));
      assert.deepEqual(profile.samples[0].values, [5]);
      assert.equal(profile.samples[0].locations[0].lines[0].function.name, 'f');
      assert.equal(parseProfile(rawBytes(rawMessage())).functions[0].filename, 'f.js');
    });

    it('reports a CheckValid failure of a well-formed message as ERR_INVALID_PROFILE', () => {
      const bytes = rawBytes(rawMessage({ sample: [{ locationId: [1], value: [5, 6] }] }));
      expectError(() => decode(bytes), 'ERR_INVALID_PROFILE', /mismatch: sample has 2 values vs\. 1 types/);
    });
  });

  describe('bit-flip fuzz', () => {
    /** flipAndDecode flips one bit at 200 seeded positions and checks each outcome. */
    function fuzz(bytes, seed) {
      const random = seededRandom(seed);
      const outcomes = { decoded: 0, rejected: 0 };
      for (let i = 0; i < 200; i++) {
        const position = Math.floor(random() * bytes.length);
        const bit = Math.floor(random() * 8);
        const mutated = Buffer.from(bytes);
        mutated[position] ^= 1 << bit;
        let profile;
        try {
          profile = decode(mutated);
        } catch (error) {
          assert.ok(error instanceof AllocscopeError, `byte ${position} bit ${bit}: ${error && error.stack}`);
          outcomes.rejected++;
          continue;
        }
        assert.doesNotThrow(() => validateProfile(profile), `byte ${position} bit ${bit}`);
        outcomes.decoded++;
      }
      return outcomes;
    }

    it('decode() of bit-flipped protobuf returns a valid profile or throws AllocscopeError', { timeout: 20000 }, () => {
      const outcomes = fuzz(serializeProfile(buildRichProfile()), 0xa110c);
      assert.equal(outcomes.decoded + outcomes.rejected, 200);
      assert.ok(outcomes.rejected > 0 && outcomes.decoded > 0, JSON.stringify(outcomes));
    });

    it('decode() of bit-flipped gzip returns a valid profile or throws AllocscopeError', { timeout: 20000 }, () => {
      const outcomes = fuzz(encode(buildRichProfile()), 20240601);
      assert.ok(outcomes.rejected > 0, JSON.stringify(outcomes));
    });
  });
});
