// Shared fixture builders for the unit tests: small valid Profiles made with ProfileBuilder, and a seeded PRNG.
'use strict';

const { ProfileBuilder } = require('../../dist/model/builder');

/** A time beyond 2^53 ns whose low digits would be lost in a double. */
const TIME_NANOS = 1700000000123456789n;

function header(overrides = {}) {
  return {
    sampleTypes: [
      { type: 'inuse_objects', unit: 'count' },
      { type: 'inuse_space', unit: 'bytes' },
    ],
    defaultSampleType: 'inuse_space',
    periodType: { type: 'space', unit: 'bytes' },
    period: 524288,
    timeNanos: TIME_NANOS,
    durationNanos: 5000000123,
    comments: ['fixture profile', 'second comment'],
    ...overrides,
  };
}

function nodeMapping(builder, overrides = {}) {
  return builder.addMapping({
    memoryStart: 0,
    memoryLimit: 0,
    fileOffset: 0,
    file: '/usr/bin/node',
    buildId: '',
    hasFunctions: true,
    hasFilenames: true,
    hasLineNumbers: true,
    hasInlineFrames: false,
    ...overrides,
  });
}

/**
 * buildTopProfile returns a profile with known values for the top tests, values [objects, bytes]:
 *   [A, main]            1 / 100
 *   [A, B, A, main]      2 / 200   (recursion: A calls B calls A)
 *   [B, main]            3 / 300
 *   []                   4 / 400   (empty stack)
 *   [anon, main]         5 / 600
 * so for inuse_space: total 1600; flat anon 600, A 300, B 300, main 0;
 * cum main 1200, anon 600, B 500, A 300 (not 500: recursion counts once).
 */
function buildTopProfile(overrides = {}) {
  const b = new ProfileBuilder(header(overrides));
  const m = nodeMapping(b);
  const frame = (name, filename, startLine, line) => b.sourceLocation({ name, filename, startLine, line, column: 1 }, m);
  const main = frame('main', '/app/main.js', 1, 5);
  const a1 = frame('A', '/app/lib.js', 10, 12);
  const a2 = frame('A', '/app/lib.js', 10, 13);
  const bLoc = frame('B', '/app/lib.js', 20, 21);
  const anon = frame('(anonymous) lib.js:40', '/app/lib.js', 40, 41);
  b.addSample([a1, main], [1, 100]);
  b.addSample([a2, bLoc, a1, main], [2, 200]);
  b.addSample([bLoc, main], [3, 300]);
  b.addSample([], [4, 400]);
  b.addSample([anon, main], [5, 600]);
  return b.build();
}

/**
 * buildRichProfile returns a valid profile that uses every field of the model: two mappings
 * (one with a build id and an address range), a location without a mapping, an inlined
 * location with two lines, a folded location, a recursive stack, labels of both kinds,
 * negative values, drop/keep frames and a timeNanos beyond 2^53.
 */
function buildRichProfile() {
  const b = new ProfileBuilder(header({ comments: ['allocscope test', 'with "quotes" and ünïcode'] }));
  const nodeMap = nodeMapping(b);
  const libMap = b.addMapping({
    memoryStart: 0x400000,
    memoryLimit: 0x7fff00001000,
    fileOffset: 0x1000,
    file: '/lib/libc.so.6',
    buildId: 'abcdef0123456789',
    hasFunctions: false,
    hasFilenames: true,
    hasLineNumbers: false,
    hasInlineFrames: true,
  });
  const main = b.sourceLocation({ name: 'main', filename: '/app/main.js', startLine: 1, line: 7, column: 3 }, nodeMap);
  const rec = b.sourceLocation({ name: 'recurse', filename: '/app/lib.js', startLine: 10, line: 11, column: 5 }, nodeMap);
  const rec2 = b.sourceLocation({ name: 'recurse', filename: '/app/lib.js', startLine: 10, line: 14, column: 9 }, nodeMap);
  const native = b.sourceLocation({ name: 'malloc', filename: '', startLine: 0, line: 0, column: 0 }, libMap);
  native.address = 0x7fff00000abc;
  native.isFolded = true;
  const inlined = b.sourceLocation({ name: 'inner', filename: '/app/lib.js', startLine: 30, line: 31, column: 2 }, undefined);
  const outer = b.sourceFunction('outer', '/app/lib.js', 40);
  inlined.lines.push({ function: outer, line: 44, column: 6 });
  b.addSample([native, rec, rec2, rec, main], [3, 3072], [
    { key: 'thread_id', str: '1' },
    { key: 'request_bytes', num: 4096, numUnit: 'bytes' },
    { key: 'count', num: -7 },
  ]);
  b.addSample([inlined, main], [-2, -1536], [{ key: 'thread_id', str: '2' }]);
  b.addSample([], [1, 9007199254740991]);
  const profile = b.build();
  profile.dropFrames = 'node:internal/.*';
  profile.keepFrames = 'keep.*';
  return profile;
}

/** mulberry32 is a small seeded PRNG returning floats in [0, 1); deterministic across runs. */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { TIME_NANOS, header, nodeMapping, buildTopProfile, buildRichProfile, seededRandom };
