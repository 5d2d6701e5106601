// Tests DeliveryQueue and Spool (src/deliver/) with scripted in-test destinations and real temp directories.
'use strict';

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DeliveryQueue } = require('../../dist/deliver/delivery-queue');
const { DeliveryError } = require('../../dist/deliver/destination');
const { Spool } = require('../../dist/deliver/spool');

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-delivery-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
let dirs = 0;
const tempDir = () => path.join(ROOT, `d${++dirs}`);

/** payload number `seq`: later sequences end later, so the spool orders them by sequence. */
function payload(seq, bytes = Buffer.from(`profile ${seq}`)) {
  return {
    service: 'svc', heap: 'native', labels: { env: 'test' }, startMs: 1_700_000_000_000 + (seq - 1) * 1000,
    endMs: 1_700_000_000_000 + seq * 1000, host: 'host', pid: 4242, threadId: 0, sequence: seq, bytes,
  };
}

/**
 * destination is a Destination whose `answer(attempt, payload)` scripts each send: 'ok' (after
 * 1 ms), a number (ok after that many ms), 'hang' (rejects only when its signal aborts) or an
 * Error (rejects with it). It records what it got: sequences delivered, signals, attempt times.
 */
function destination(id, answer = () => 'ok', { sync = false } = {}) {
  const d = { id, sent: [], syncSent: [], signals: [], times: [], active: 0, maxActive: 0 };
  d.send = (p, signal) => {
    const how = answer(d.signals.length, p);
    d.signals.push(signal);
    d.times.push(performance.now());
    d.active += 1;
    d.maxActive = Math.max(d.maxActive, d.active);
    return new Promise((resolve, reject) => {
      const settle = (error) => {
        d.active -= 1;
        if (error) return reject(error);
        d.sent.push(p.sequence);
        resolve();
      };
      if (how === 'hang') signal.addEventListener('abort', () => settle(new DeliveryError(`${id}: timed out`, true)));
      else if (how instanceof Error) setImmediate(() => settle(how));
      else setTimeout(() => settle(), typeof how === 'number' ? how : 1);
    });
  };
  if (sync) d.sendSync = (p) => d.syncSent.push(p.sequence);
  return d;
}

function queue(destinations, options = {}) {
  const reports = [];
  const q = new DeliveryQueue(destinations, {
    maxQueue: 8, requestTimeoutMs: 2000, attemptsBeforeSpool: 3, backoffBaseMs: 5, backoffMaxMs: 40,
    spool: undefined, report: (message) => reports.push(message), ...options,
  });
  return { q, reports };
}

async function waitFor(condition, what, timeoutMs = 2000) {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sequences = (claimed) => claimed.map((c) => c.payload.sequence);

describe('DeliveryQueue', () => {
  it('delivers each payload once to every destination, in order, one request at a time', async () => {
    const a = destination('a', () => 3);
    const b = destination('b');
    const { q, reports } = queue([a, b]);
    for (const seq of range(1, 6)) q.enqueue(payload(seq));
    await waitFor(() => q.counters.delivered === 12, 'all deliveries');
    await sleep(20);
    assert.deepEqual(a.sent, range(1, 6));
    assert.deepEqual(b.sent, range(1, 6));
    assert.equal(a.maxActive, 1);
    assert.equal(b.maxActive, 1);
    assert.equal(q.counters.failedAttempts, 0);
    assert.equal(q.queued(), 0);
    assert.deepEqual(reports, []);
  });

  it('drops a rejected payload without retrying, says so once, and delivers the next ones', async () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const d = destination('d', (attempt) => (attempt === 1 || attempt === 2 ? new DeliveryError('d: HTTP 400 bad profile', false) : 'ok'));
    const { q, reports } = queue([d], { spool });
    for (const seq of range(1, 4)) q.enqueue(payload(seq));
    await waitFor(() => q.counters.delivered === 2 && q.queued() === 0, 'deliveries');
    assert.deepEqual(d.sent, [1, 4]);
    assert.equal(d.signals.length, 4, 'no retries of the rejected payloads');
    assert.equal(q.counters.dropped.rejected, 2);
    assert.equal(q.counters.failedAttempts, 2);
    assert.equal(reports.length, 1);
    assert.match(reports[0], /HTTP 400 bad profile \(not retried/);
    assert.deepEqual(spool.usage(), { entries: 0, bytes: 0 }, 'a rejected payload is not spooled');
  });

  it('retries with backoff, spools while the destination is down, and replays the spool oldest first when it is back', async (t) => {
    const random = Math.random;
    Math.random = () => 0.999; // backoff = its ceiling: min(40, 5 * 2^failures)
    t.after(() => { Math.random = random; });
    const spool = new Spool(tempDir(), 1 << 20);
    let up = false;
    const d = destination('d', () => (up ? 'ok' : new DeliveryError('d: HTTP 503', true)));
    const { q, reports } = queue([d], { spool });
    for (const seq of range(1, 5)) q.enqueue(payload(seq));
    await waitFor(() => q.counters.failedAttempts >= 3, 'three failed attempts');
    const gaps = d.times.slice(1).map((time, i) => time - d.times[i]);
    assert.ok(gaps[0] >= 8 && gaps[1] >= 17, `backoff doubles: ${gaps.map((g) => g.toFixed(1)).join(', ')} ms`);
    assert.equal(q.queued(), 1, 'one payload stays in memory as the probe');
    assert.equal(spool.usage().entries, 4);
    q.enqueue(payload(6));
    assert.equal(q.queued(), 1, 'new payloads go straight to the spool while down');
    assert.equal(spool.usage().entries, 5);
    assert.deepEqual(d.sent, []);
    up = true;
    await waitFor(() => q.counters.delivered === 6, 'replay');
    assert.deepEqual(d.sent, range(1, 6));
    assert.deepEqual(spool.usage(), { entries: 0, bytes: 0 });
    assert.equal(q.counters.spooled, 5);
    assert.ok(reports.some((r) => /HTTP 503 \(will retry, then keep profiles in the spool\)/.test(r)), reports.join('\n'));
    assert.ok(reports.includes('d: delivering again'));
  });

  it('replays what an earlier process spooled before new payloads', async () => {
    const dir = tempDir();
    const earlier = new Spool(dir, 1 << 20);
    for (const seq of range(1, 3)) earlier.put('d', payload(seq));
    const d = destination('d');
    const { q } = queue([d], { spool: new Spool(dir, 1 << 20) });
    q.enqueue(payload(4));
    await waitFor(() => q.counters.delivered === 4, 'deliveries');
    assert.deepEqual(d.sent, [1, 2, 3, 4]);
    assert.equal(earlier.usage().entries, 0);
  });

  it('replays a spool longer than half the queue oldest first', async () => {
    const dir = tempDir();
    const earlier = new Spool(dir, 1 << 20);
    for (const seq of range(1, 8)) earlier.put('d', payload(seq));
    const d = destination('d');
    const { q } = queue([d], { spool: new Spool(dir, 1 << 20), maxQueue: 4 });
    await waitFor(() => q.counters.delivered === 8, 'deliveries');
    assert.deepEqual(d.sent, range(1, 8));
  });

  it('delivers a payload once when the queue overflows while it is in flight', async () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const d = destination('d', () => 30);
    const { q } = queue([d], { spool, maxQueue: 2 });
    for (const seq of range(1, 3)) q.enqueue(payload(seq));
    await waitFor(() => q.counters.delivered >= 3 && q.queued() === 0, 'deliveries');
    await sleep(100);
    assert.deepEqual(d.sent, [1, 2, 3]);
  });

  it('probes again after a down destination rejects its probe', async () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const d = destination('d', (attempt) => (attempt < 2 ? new DeliveryError('d: HTTP 503', true) : attempt === 2 ? new DeliveryError('d: HTTP 413', false) : 'ok'));
    const { q } = queue([d], { spool, attemptsBeforeSpool: 2 });
    q.enqueue(payload(1));
    q.enqueue(payload(2));
    await waitFor(() => q.counters.dropped.rejected === 1, 'the probe to be rejected');
    q.enqueue(payload(3));
    await waitFor(() => q.counters.delivered === 2, 'payloads 2 and 3', 500);
    assert.deepEqual(d.sent, [2, 3]);
  });

  it('holds at most maxQueue payloads in memory per destination: the rest goes to the spool', () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const d = destination('d', () => 'hang');
    const { q } = queue([d], { spool, maxQueue: 3 });
    for (const seq of range(1, 10)) {
      q.enqueue(payload(seq));
      assert.ok(q.queued() <= 3, `queued ${q.queued()} after ${seq}`);
    }
    assert.equal(q.queued(), 3);
    assert.equal(d.signals.length, 1, 'one request at a time');
    assert.equal(spool.usage().entries, 7);
    assert.deepEqual(sequences(spool.claim('d', 10)), range(2, 8));  // 1 is in flight: never evicted
    assert.equal(q.counters.spooled, 7);
    assert.equal(q.counters.dropped['queue-full'], 0);
    q.flushSync();
  });

  it('drops the oldest payloads as queue-full when there is no spool', () => {
    const d = destination('d', () => 'hang');
    const { q } = queue([d], { maxQueue: 3 });
    for (const seq of range(1, 10)) q.enqueue(payload(seq));
    assert.equal(q.queued(), 3);
    assert.equal(q.counters.dropped['queue-full'], 7);
    assert.equal(q.counters.spooled, 0);
    q.flushSync();
  });

  it('aborts a request at the request timeout and tries again', async () => {
    const d = destination('d', (attempt) => (attempt === 0 ? 'hang' : 'ok'));
    const { q } = queue([d], { requestTimeoutMs: 40 });
    const started = performance.now();
    q.enqueue(payload(1));
    assert.equal(d.signals[0].aborted, false);
    await waitFor(() => d.signals[0].aborted, 'the abort');
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 35 && elapsed < 500, `aborted after ${elapsed.toFixed(0)} ms`);
    await waitFor(() => q.counters.delivered === 1, 'the retry');
    assert.deepEqual(d.sent, [1]);
    assert.equal(q.counters.failedAttempts, 1);
  });

  it('flush with close delivers what is queued within the deadline and then takes nothing more', async () => {
    const d = destination('d', () => 10);
    const { q } = queue([d]);
    for (const seq of range(1, 5)) q.enqueue(payload(seq));
    const started = Date.now();
    await q.flush(Date.now() + 2000, { close: true });
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(d.sent, range(1, 5));
    q.enqueue(payload(6));
    await sleep(20);
    assert.deepEqual(d.sent, range(1, 5));
    assert.equal(q.queued(), 0);
  });

  it('flush with close returns at the deadline when the destination hangs, and spools the rest', async () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const d = destination('d', () => 'hang');
    const { q } = queue([d], { spool });
    for (const seq of range(1, 3)) q.enqueue(payload(seq));
    const started = Date.now();
    await q.flush(started + 200, { close: true });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 190 && elapsed < 500, `flush took ${elapsed} ms`);
    assert.ok(d.signals.every((s) => s.aborted));
    assert.equal(q.counters.delivered, 0);
    assert.deepEqual(sequences(spool.claim('d', 10)), [1, 2, 3]);
  });

  it('flushSync writes through sendSync, spools for the others, drops as exit without a spool', () => {
    const spool = new Spool(tempDir(), 1 << 20);
    const files = destination('files', () => 'hang', { sync: true });
    const http = destination('http', () => 'hang');
    const { q } = queue([files, http], { spool });
    for (const seq of range(1, 3)) q.enqueue(payload(seq));
    q.flushSync();
    assert.deepEqual(files.syncSent, [1, 2, 3]);
    assert.equal(q.counters.delivered, 3);
    assert.ok(http.signals[0].aborted, 'the request in flight is abandoned');
    assert.equal(spool.pending('files'), false);
    assert.deepEqual(sequences(spool.claim('http', 10)), [1, 2, 3]);
    assert.equal(q.counters.dropped.exit, 0);

    const bare = queue([destination('http', () => 'hang')]).q;
    for (const seq of range(1, 3)) bare.enqueue(payload(seq));
    bare.flushSync();
    assert.equal(bare.counters.dropped.exit, 3);
    assert.equal(bare.queued(), 0);
  });
});

describe('Spool', () => {
  it('puts, claims oldest first, forgets done entries and gives released ones back', () => {
    const spool = new Spool(tempDir(), 1 << 20);
    for (const seq of [2, 3, 1]) assert.deepEqual(spool.put('d', payload(seq)), { stored: true, evicted: 0 });
    const first = spool.claim('d', 2);
    assert.deepEqual(sequences(first), [1, 2]);
    assert.deepEqual(first[0].payload, payload(1));
    assert.ok(first.every((c) => c.file.endsWith(`.spool.claimed-${process.pid}`) && fs.existsSync(c.file)));
    assert.equal(spool.pending('d'), true);
    assert.deepEqual(sequences(spool.claim('d', 5)), [3]);
    assert.equal(spool.pending('d'), false);
    assert.deepEqual(spool.claim('other', 5), []);
    spool.done(first[0]);
    assert.equal(fs.existsSync(first[0].file), false);
    assert.equal(spool.usage().entries, 2);
    spool.release(first[1]);
    assert.deepEqual(sequences(spool.claim('d', 5)), [2]);
  });

  it('never lets two spools on one directory claim the same entry', () => {
    const dir = tempDir();
    const a = new Spool(dir, 1 << 20);
    const b = new Spool(dir, 1 << 20);
    for (const seq of range(1, 9)) a.put('d', payload(seq));
    const got = { a: [], b: [] };
    for (let i = 0; i < 6; i++) {
      got.a.push(...sequences(a.claim('d', 1)));
      got.b.push(...sequences(b.claim('d', 1 + (i % 2))));
    }
    assert.ok(got.a.length > 0 && got.b.length > 0);
    assert.deepEqual([...got.a, ...got.b].sort((x, y) => x - y), range(1, 9), JSON.stringify(got));
  });

  it("releases the claims of a process that has exited when the next spool opens, not a live one's", () => {
    const dir = tempDir();
    const spool = new Spool(dir, 1 << 20);
    for (const seq of range(1, 3)) spool.put('d', payload(seq));
    const [dead, live] = spool.claim('d', 2);
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;
    const deadFile = dead.file.replace(/\.claimed-\d+$/, `.claimed-${deadPid}`);
    fs.renameSync(dead.file, deadFile);
    assert.deepEqual(sequences(spool.claim('d', 5)), [3]);
    new Spool(dir, 1 << 20); // a new process starting
    assert.equal(fs.existsSync(deadFile), false);
    assert.equal(fs.existsSync(live.file), true);
    assert.deepEqual(sequences(spool.claim('d', 5)), [1]);
  });

  it('evicts the oldest unclaimed entries beyond maxBytes and says how many', () => {
    const probe = new Spool(tempDir(), 1 << 20);
    probe.put('d', payload(1, Buffer.alloc(1000, 1)));
    const size = probe.usage().bytes;
    const spool = new Spool(tempDir(), Math.floor(3.5 * size));
    const evicted = range(1, 5).map((seq) => spool.put('d', payload(seq, Buffer.alloc(1000, seq))).evicted);
    assert.deepEqual(evicted, [0, 0, 0, 1, 1]);
    assert.deepEqual(spool.usage(), { entries: 3, bytes: 3 * size });
    const [claimed] = spool.claim('d', 1);
    assert.equal(claimed.payload.sequence, 3);
    assert.deepEqual(claimed.payload.bytes, Buffer.alloc(1000, 3));
    assert.equal(spool.put('d', payload(6, Buffer.alloc(1000, 6))).evicted, 1);
    assert.equal(fs.existsSync(claimed.file), true, 'a claimed entry is not evicted');
    assert.deepEqual(sequences(spool.claim('d', 5)), [5, 6]);
    assert.deepEqual(spool.put('d', payload(7, Buffer.alloc(4 * size))), { stored: false, evicted: 0 });
  });

  it('discards a corrupt entry instead of throwing', () => {
    const spool = new Spool(tempDir(), 1 << 20);
    spool.put('d', payload(5));
    const [sub] = fs.readdirSync(spool.dir);
    assert.equal(fs.readFileSync(path.join(spool.dir, sub, 'destination'), 'utf8'), 'd\n');
    fs.writeFileSync(path.join(spool.dir, sub, '000000000000001-garbage.spool'), Buffer.from([0, 0, 0, 9, 123, 34]));
    fs.writeFileSync(path.join(spool.dir, sub, '000000000000002-empty.spool'), Buffer.alloc(0));
    assert.equal(spool.usage().entries, 3);
    assert.deepEqual(sequences(spool.claim('d', 5)), [5]);
    assert.equal(spool.usage().entries, 1, 'the corrupt files are gone');
    assert.equal(spool.pending('d'), false);
  });

  it('usage counts entries and bytes of all destinations, claimed ones included', () => {
    const spool = new Spool(tempDir(), 1 << 20);
    range(1, 3).forEach((seq) => spool.put(seq === 1 ? 'a' : 'b', payload(seq, Buffer.alloc(100 * seq))));
    spool.claim('b', 1);
    const files = fs.readdirSync(spool.dir).flatMap((sub) => fs.readdirSync(path.join(spool.dir, sub)).filter((n) => n.includes('.spool')).map((n) => path.join(spool.dir, sub, n)));
    const bytes = files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
    assert.ok(bytes > 600);
    assert.deepEqual(spool.usage(), { entries: 3, bytes });
  });
});
