// The Buffer/zlib/crypto unit of work whose memory comes from malloc inside Node, shared by the native benchmarks.
'use strict';
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { mulberry32 } = require('./stats');

const RING = 64;
const BUFFERS_PER_UNIT = 8;
const LOG_MIN = Math.log(64);
const LOG_MAX = Math.log(256 * 1024);
const TEXTS = 16;

/** makeState returns the seeded state units run on: the PRNG, the ring of live Buffers, the texts, the checksum. */
function makeState(seed) {
  const texts = [];
  for (let i = 0; i < TEXTS; i++) {
    let s = '';
    while (s.length < 256 * (i + 1)) s += `record ${i} value ${i * 7919} name user-${i} tag t${i % 5}; `;
    texts.push(Buffer.from(s.slice(0, 256 * (i + 1))));
  }
  return { rng: mulberry32(seed), next: 0, ring: new Array(RING).fill(null), texts, checksum: 0 };
}

/**
 * unit runs one unit: 8 Buffer.allocUnsafeSlow of log-uniform sizes from 64 B to 256 KiB (the
 * last 64 kept alive in a ring, so GC frees them later), one deflateSync of a 256 B - 4 KiB text
 * and one sha256; the checksum proves that two runs did the same work.
 */
function unit(state) {
  const { rng, ring } = state;
  for (let i = 0; i < BUFFERS_PER_UNIT; i++) {
    const size = Math.round(Math.exp(LOG_MIN + (LOG_MAX - LOG_MIN) * rng()));
    const buf = Buffer.allocUnsafeSlow(size);
    buf[0] = i;
    buf[size - 1] = size & 0xff;
    ring[state.next++ % RING] = buf;
  }
  const text = state.texts[Math.floor(rng() * TEXTS)];
  const deflated = zlib.deflateSync(text);
  const digest = crypto.createHash('sha256').update(text).update(deflated).digest();
  state.checksum = (state.checksum + deflated.length + digest[0] + (ring[(state.next - 1) % RING].length & 0xff)) % 2_147_483_647;
}

function runUnits(state, units) {
  for (let i = 0; i < units; i++) unit(state);
}

module.exports = { makeState, unit, runUnits };
