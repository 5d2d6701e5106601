// Seeded generator of bad profile inputs for the reader fuzz test: corrupted valid profiles, junk, wrong compression, nesting and size bombs, hostile names.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { util: { Long } } = require('protobufjs');
const { encode } = require('../../dist/index.js');
const { MAX_PROFILE_BYTES } = require('../../dist/format/gzip.js');
const { profileMessageType } = require('../../dist/format/profile-schema.js');
const { ProfileBuilder } = require('../../dist/model/builder.js');
const { buildRichProfile, buildTopProfile, header, seededRandom } = require('./profiles');

/** fuzzSeed is ALLOCSCOPE_FUZZ_SEED when set (to replay a failure), else a fresh random seed. */
function fuzzSeed() {
  const text = process.env.ALLOCSCOPE_FUZZ_SEED;
  if (text === undefined || text === '') return crypto.randomInt(2 ** 32);
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`ALLOCSCOPE_FUZZ_SEED must be a whole number below 2^32, got '${text}'`);
  return seed;
}

/** Chance: the seeded PRNG with the draws the generators need. */
function chance(seed) {
  const random = seededRandom(seed);
  const int = (n) => Math.floor(random() * n);
  return {
    int,
    between: (low, high) => low + int(high - low + 1),
    pick: (items) => items[int(items.length)],
    coin: () => random() < 0.5,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(256))),
  };
}

/** mediumProfile is a valid profile big enough (about 4 kB of protobuf) that random cuts and flips land in every part of it. */
function mediumProfile(c) {
  const b = new ProfileBuilder(header());
  const mapping = b.addMapping({ memoryStart: 0, memoryLimit: 0, fileOffset: 0, file: '/usr/bin/node', buildId: 'b1', hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: false });
  const frames = Array.from({ length: 60 }, (_, i) =>
    b.sourceLocation({ name: `handler${i}`, filename: `/srv/app/lib/module${i % 7}.js`, startLine: i + 1, line: i + 3, column: 5 }, c.coin() ? mapping : undefined));
  for (let i = 0; i < 80; i++) {
    const stack = Array.from({ length: c.between(0, 12) }, () => c.pick(frames));
    b.addSample(stack, [c.between(1, 50), c.between(1, 1 << 20)], c.coin() ? [{ key: 'thread_id', str: String(i % 3) }] : []);
  }
  return b.build();
}

/** validRaws: uncompressed valid profiles, the material most cases corrupt. */
function validRaws(c) {
  return [buildRichProfile(), buildTopProfile(), mediumProfile(c)].map((profile) => zlib.gunzipSync(encode(profile)));
}

const gzip = (bytes) => zlib.gzipSync(bytes);

function flipBits(c, bytes) {
  const copy = Buffer.from(bytes);
  const flips = c.between(1, 8);
  for (let i = 0; i < flips; i++) copy[c.int(copy.length)] ^= 1 << c.int(8);
  return { flips, copy };
}

function varint(value) {
  const out = [];
  let v = BigInt(value);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(out);
}

const tag = (field, wireType) => varint(field * 8 + wireType);

/** nestedMessages wraps `core` in `depth` length-delimited fields, outermost first, without copying it depth times. */
function nestedMessages(c, depth, core) {
  const prefixes = [];
  let size = core.length;
  for (let i = 0; i < depth; i++) {
    const prefix = Buffer.concat([tag(c.pick([2, 3, 4, 1, 19]), 2), varint(size)]);
    prefixes.push(prefix);
    size += prefix.length;
  }
  return Buffer.concat([...prefixes.reverse(), core]);
}

/** randomMessage is well-formed protobuf of random fields, nested messages included: protobuf that is not a profile. */
function randomMessage(c, depth = 0) {
  const parts = [];
  for (let i = c.between(1, 12); i > 0; i--) {
    const field = c.between(1, 40);
    const kind = c.int(depth < 4 ? 4 : 3);
    if (kind === 0) parts.push(tag(field, 0), varint(c.int(2 ** 31) * c.int(1 << 20)));
    else if (kind === 1) parts.push(...c.pick([[tag(field, 1), c.bytes(8)], [tag(field, 5), c.bytes(4)]]));
    else if (kind === 2) {
      const text = c.bytes(c.int(40));
      parts.push(tag(field, 2), varint(text.length), text);
    } else {
      const inner = randomMessage(c, depth + 1);
      parts.push(tag(field, 2), varint(inner.length), inner);
    }
  }
  return Buffer.concat(parts);
}

/** gzipBomb is a gzip stream that inflates to `inflated` zero bytes (about 1 kB per MiB), built without compressing them. */
function gzipBomb(inflated) {
  const MiB = 1 << 20;
  // A sync-flushed raw deflate block of 1 MiB of zeros ends on a byte boundary and is not final, so copies of it chain.
  const block = zlib.deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const gzipHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
  const finalEmptyBlock = Buffer.from([3, 0]);
  // CRC and size are left zero: a reader that honours its limit stops long before it checks them.
  return Buffer.concat([gzipHeader, ...Array(Math.ceil(inflated / MiB)).fill(block), finalEmptyBlock, Buffer.alloc(8)]);
}

/** writeSparseFile makes a file of `size` bytes that takes no disk: a reader must refuse it by its size, not read it. */
function writeSparseFile(file, size = MAX_PROFILE_BYTES + 1) {
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
}

const Profile = profileMessageType();

/** numericSlots lists every integer field of a decoded pprof message, present or default, as [holder, key]. */
function numericSlots(message, type = Profile, slots = []) {
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (field.resolvedType) {
      for (const item of field.repeated ? value : value ? [value] : []) numericSlots(item, field.resolvedType, slots);
    } else if (field.type !== 'string' && field.type !== 'bool') {
      if (field.repeated) value.forEach((_, i) => slots.push([value, i]));
      else slots.push([message, field.name]);
    }
  }
  return slots;
}

function interestingNumber(c, message) {
  return c.pick([
    0, 1, -1, 2, 255, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53, Long.fromString('9007199254740993'), Long.MAX_VALUE, Long.MIN_VALUE,
    Long.MAX_UNSIGNED_VALUE, message.stringTable.length, message.stringTable.length + 1, c.int(1000),
  ]);
}

/** SEMANTIC: mutations of a decoded profile that keep the protobuf well-formed but break the profile's meaning. */
const SEMANTIC = {
  number(c, m) {
    const slots = numericSlots(m);
    const [holder, key] = c.pick(slots);
    holder[key] = interestingNumber(c, m);
  },
  dropEntry(c, m) {
    const table = c.pick(['function', 'location', 'mapping', 'stringTable', 'sampleType']);
    m[table].splice(c.int(m[table].length), 1);
  },
  duplicateEntry(c, m) {
    const table = c.pick(['function', 'location', 'mapping']);
    if (m[table].length > 0) m[table].push(c.pick(m[table]));
  },
  stringTable(c, m) {
    if (c.coin()) m.stringTable = [];
    else m.stringTable[0] = 'not empty';
  },
  sampleValues(c, m) {
    const sample = c.pick(m.sample);
    if (sample) sample.value = c.coin() ? [] : [...sample.value, 1, 2];
  },
};

/** HUGE: well-formed profiles with counts far beyond what allocscope writes; slow to decode, so drawn less often. */
const HUGE = {
  stack: (c, m) => {
    const sample = m.sample.find((s) => s.locationId.length > 0);
    sample.locationId = Array(c.between(1_500, 40_000)).fill(sample.locationId[0]);
    return `a stack of ${sample.locationId.length} frames`;
  },
  stringTable: (c, m) => {
    m.stringTable = m.stringTable.concat(Array(c.between(10_000, 200_000)).fill('s'));
    return `${m.stringTable.length} strings`;
  },
  samples: (c, m) => {
    m.sample = m.sample.concat(Array(c.between(10_000, 100_000)).fill(m.sample[0]));
    return `${m.sample.length} samples`;
  },
};

/** BYTE_CASES: each returns { name, bytes } for a random bad input; `raw` is an uncompressed valid profile. */
const BYTE_CASES = {
  truncatedGzip(c, raw) {
    const gz = gzip(raw);
    const at = c.int(gz.length);
    return { name: `gzip cut at ${at} of ${gz.length}`, bytes: gz.subarray(0, at) };
  },
  truncatedRaw(c, raw) {
    // Half the cuts fall in the last few bytes: inside the last string of the table, where a lax reader shortens it.
    const at = c.coin() ? c.between(1, raw.length - 1) : raw.length - c.between(1, 8);
    const zipped = c.coin();
    return { name: `protobuf cut at ${at} of ${raw.length}${zipped ? ', gzipped' : ''}`, bytes: zipped ? gzip(raw.subarray(0, at)) : raw.subarray(0, at) };
  },
  flippedGzip(c, raw) {
    const { flips, copy } = flipBits(c, gzip(raw));
    return { name: `${flips} bits flipped in the gzip stream`, bytes: copy };
  },
  flippedRaw(c, raw) {
    const { flips, copy } = flipBits(c, raw);
    const zipped = c.coin();
    return { name: `${flips} bits flipped in the protobuf${zipped ? ', gzipped' : ''}`, bytes: zipped ? gzip(copy) : copy };
  },
  spliced(c, raw) {
    const at = c.int(raw.length);
    const cut = c.int(Math.min(64, raw.length - at));
    const inserted = c.coin() ? c.bytes(c.int(16)) : raw.subarray(c.int(raw.length)).subarray(0, 32);
    return { name: `protobuf with ${cut} bytes at ${at} replaced by ${inserted.length}, gzipped`, bytes: gzip(Buffer.concat([raw.subarray(0, at), inserted, raw.subarray(at + cut)])) };
  },
  junk(c) {
    const bytes = c.bytes(c.int(4096));
    const prefix = c.pick([[], [0x1f, 0x8b], [0x1f, 0x8b, 8, 0], [0x0a], [0x32, 0x00]]);
    return { name: `${bytes.length} random bytes after [${prefix}]`, bytes: Buffer.concat([Buffer.from(prefix), bytes]) };
  },
  empty(c) {
    return c.coin() ? { name: 'empty file', bytes: Buffer.alloc(0) } : { name: 'gzip of nothing', bytes: gzip(Buffer.alloc(0)) };
  },
  wrongCompression(c, raw) {
    const [name, bytes] = c.pick([
      ['zlib deflate', () => zlib.deflateSync(raw)],
      ['raw deflate', () => zlib.deflateRawSync(raw)],
      ['brotli', () => zlib.brotliCompressSync(raw)],
      ['double gzip', () => gzip(gzip(raw))],
      ['gzip of junk', () => gzip(c.bytes(c.between(1, 2000)))],
      ['gzip with trailing junk', () => Buffer.concat([gzip(raw), c.bytes(c.between(1, 100))])],
      ['gzip header only', () => gzip(raw).subarray(0, 10)],
      ['bzip2 magic', () => Buffer.concat([Buffer.from('BZh91AY&SY'), c.bytes(200)])],
      ['zstd magic', () => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), c.bytes(200)])],
      ['xz magic', () => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), c.bytes(200)])],
      ['zip magic', () => Buffer.concat([Buffer.from('PK\x03\x04'), c.bytes(200)])],
      ['JSON text', () => Buffer.from(JSON.stringify({ head: { callFrame: {}, children: [] }, samples: [] }))],
    ]);
    return { name, bytes: bytes() };
  },
  nestedGroups(c) {
    const depth = c.between(10_000, 150_000);
    const field = c.pick([2, 3, 20, 1000]);
    const closed = c.coin();
    const bytes = Buffer.concat([...Array(depth).fill(tag(field, 3)), ...(closed ? Array(depth).fill(tag(field, 4)) : [])]);
    return { name: `${depth} nested start-group tags of field ${field}${closed ? ', closed' : ''}`, bytes: gzip(bytes) };
  },
  nestedMessages(c, raw) {
    const depth = c.between(1_000, 50_000);
    return { name: `profile inside ${depth} nested length-delimited fields`, bytes: gzip(nestedMessages(c, depth, raw)) };
  },
  hugeLength(c, raw) {
    const field = c.pick([1, 2, 4, 5, 6]);
    const length = c.pick([2n ** 31n, 2n ** 32n - 1n, 2n ** 35n, 2n ** 63n, 2n ** 64n - 1n, BigInt(raw.length)]);
    const claim = Buffer.concat([tag(field, 2), varint(length), c.bytes(c.int(32))]);
    const bytes = c.coin() ? Buffer.concat([raw, claim]) : claim;
    return { name: `field ${field} claiming ${length} bytes`, bytes: c.coin() ? gzip(bytes) : bytes };
  },
  overlongVarint(c, raw) {
    const bytes = Buffer.concat([raw, tag(9, 0), Buffer.alloc(c.between(10, 20), 0xff), Buffer.from([1])]);
    return { name: 'time_nanos varint longer than 10 bytes', bytes };
  },
  notAProfile(c) {
    return { name: 'well-formed protobuf that is not a profile', bytes: gzip(randomMessage(c)) };
  },
  semantic(c, raw) {
    const message = Profile.decode(raw);
    const names = c.pick([1, 1, 2, 3]) === 1 ? [c.pick(Object.keys(SEMANTIC))] : Object.keys(SEMANTIC).filter(() => c.coin());
    for (const mutation of names) SEMANTIC[mutation](c, message);
    return { name: `profile with ${names.join(', ') || 'nothing'} changed`, bytes: gzip(Profile.encode(message).finish()) };
  },
  huge(c, raw) {
    const message = Profile.decode(raw);
    const name = c.pick(Object.values(HUGE))(c, message);
    return { name: `profile with ${name}`, bytes: gzip(Profile.encode(message).finish()) };
  },
};

/** Heavier draws come up less often: most of a run's time goes to the cheap cases that find the most. */
const WEIGHTS = {
  truncatedGzip: 3, truncatedRaw: 4, flippedGzip: 3, flippedRaw: 6, spliced: 4, junk: 3, empty: 1, wrongCompression: 3,
  nestedGroups: 1, nestedMessages: 1, hugeLength: 3, overlongVarint: 1, notAProfile: 2, semantic: 10, huge: 1,
};

/**
 * badInputs draws `count` inputs, each { kind, name, bytes } (`kind` is the generator), all
 * derived from the seed: the same seed gives the same inputs.
 */
function badInputs(seed, count) {
  const c = chance(seed);
  const raws = validRaws(c);
  const deck = Object.entries(WEIGHTS).flatMap(([kind, weight]) => Array(weight).fill(kind));
  const kinds = Object.keys(WEIGHTS);
  return Array.from({ length: count }, (_, i) => {
    // Every kind once first, so that even a short run sees them all.
    const kind = i < kinds.length ? kinds[i] : c.pick(deck);
    return { kind, ...BYTE_CASES[kind](c, c.pick(raws)) };
  });
}

/** Markup and script that profile strings could carry, one per way a page can be tricked into running it. */
const HOSTILE_STRINGS = [
  '<script>window.pwned=1</script>',
  '"><img src=x onerror="window.pwned=1">',
  "'><svg onload='window.pwned=1'>",
  'javascript:window.pwned=1',
  '</style><script>window.pwned=1</script>',
  '</title><script>window.pwned=1</script>',
  '\u2028\u2029<iframe srcdoc="<script>parent.pwned=1</script>">',
  '{{constructor.constructor("window.pwned=1")()}}',
  '<a href="javascript:window.pwned=1">x</a>',
  '&lt;script&gt;window.pwned=1&lt;/script&gt;',
  '<!--', ']]><script>window.pwned=1</script>',
];

/** hostileProfile is a valid heap profile whose every string (names, files, labels, types, comments) is one of HOSTILE_STRINGS; `scale` grows its values. */
function hostileProfile(seed, scale) {
  const c = chance(seed);
  const hostile = () => c.pick(HOSTILE_STRINGS);
  const b = new ProfileBuilder({
    sampleTypes: [{ type: 'inuse_objects', unit: hostile() }, { type: 'inuse_space', unit: 'bytes' }, { type: hostile(), unit: hostile() }],
    defaultSampleType: 'inuse_space', periodType: { type: hostile(), unit: hostile() }, period: 524288,
    timeNanos: 1700000000000000000n, durationNanos: 1e9, comments: HOSTILE_STRINGS,
  });
  const mapping = b.addMapping({ memoryStart: 0, memoryLimit: 0, fileOffset: 0, file: hostile(), buildId: hostile(), hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: false });
  const stack = HOSTILE_STRINGS.map((name, i) => b.sourceLocation({ name, filename: `/app/${hostile()}.js`, startLine: i + 1, line: i + 2, column: 1 }, mapping));
  HOSTILE_STRINGS.forEach((_, i) => b.addSample(stack.slice(i), [scale * (i + 1), scale * (i + 1) * 65536, 1], [{ key: hostile(), str: hostile() }]));
  const profile = b.build();
  profile.dropFrames = hostile();
  profile.keepFrames = hostile();
  return profile;
}

module.exports = { fuzzSeed, badInputs, gzipBomb, writeSparseFile, hostileProfile, HOSTILE_STRINGS };
