// Soak, short: a steady service profiled continuously (`-r allocscope/register`, a 0.5 s period) keeps allocscope's own memory, handles, listeners, queue and files bounded period after period.
'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('../support/cli');
const { startSteadyService } = require('../support/steady-service');

const PERIOD_SECONDS = 0.5;
/** The service is loaded, then idle: while idle, what changes from period to period is allocscope's doing. */
const LOAD_SECONDS = 12;
const RUN_SECONDS = 24;
/** Reports before this are warm-up: code being compiled, caches and allocscope's tables filling. */
const WARM_UP_SECONDS = 6;
/** Profiles a period makes: heap, native and handles. */
const KINDS = 3;
/** Three periods' worth. */
const KEEP_FILES = 3 * KINDS;
const NATIVE_INTERVAL_BYTES = 512 * 1024;
/**
 * Growth allowed per period once idle: less than keeping a period's profiles costs (their
 * encodings are ~60 KiB, the Profile objects ~600 KiB), more than allocscope's steady state
 * adds (its stack table still meets stacks of V8's compiler it had not sampled: 3 to 8 KiB per
 * period here, on the JS heap and in profilerBytes).
 */
const MAX_GROWTH_PER_PERIOD = 32 * 1024;
/** A collection in progress holds an Immediate, a zlib stream and a tick at most; a leak of one a period would reach dozens. */
const MAX_ALLOCSCOPE_RESOURCES = 3;

const sum = (values) => values.reduce((total, value) => total + value, 0);
const floorOf = (reports, field) => Math.min(...reports.map((r) => r[field]));

describe('soak: allocscope does not leak itself', { timeout: 120_000 }, () => {
  it('keeps its memory, async resources, listeners, delivery queue and files bounded period after period', async (t) => {
    const uploadDir = path.join(tempDir('allocscope-soak-'), 'profiles');
    const service = startSteadyService({
      profiling: { uploadDir, periodSeconds: PERIOD_SECONDS, keepFiles: KEEP_FILES },
      args: ['--report-every', '1', '--seconds', String(RUN_SECONDS), '--load-seconds', String(LOAD_SECONDS), '--track-resources'],
    });
    t.after(() => service.child.exitCode === null && service.child.kill('SIGKILL'));
    assert.equal((await service.ready).profiled, true, 'the service sees allocscope loaded');
    const { status, signal } = await service.exited;
    assert.equal(status, 0, `signal ${signal}; stderr: ${service.stderr()}`);
    assert.doesNotMatch(service.stderr(), /allocscope:/, 'allocscope reported no problem');

    const reports = service.reports;
    const steady = reports.filter((r) => r.t >= WARM_UP_SECONDS);
    const idle = reports.filter((r) => r.t >= LOAD_SECONDS + 1);
    assert.ok(idle.length >= 3 && steady.length > idle.length, `${reports.length} reports, ${idle.length} of them idle`);
    assert.ok(reports.some((r) => r.t < LOAD_SECONDS && r.requests > 0 && r.errors === 0), 'the service served requests while loaded');

    for (const r of reports) {
      const at = `report at ${r.t} s`;
      assert.ok(r.delivery !== null, 'allocscope registered its delivery metrics in prom-client');
      assert.equal(r.delivery.queued, 0, `${at}: nothing waits in the delivery queue`);
      assert.equal(r.delivery.failedAttempts, 0, at);
      assert.equal(sum(Object.values(r.delivery.dropped)), 0, `${at}: nothing dropped: ${JSON.stringify(r.delivery.dropped)}`);
      assert.equal(r.native.droppedRingFull + r.native.droppedTableFull + r.native.droppedStackTableFull, 0, `${at}: no native sample dropped`);
      assert.deepEqual(r.listeners, reports[0].listeners, `${at}: process listeners added once, not per period`);
      assert.ok(r.uploaded.profiles <= KEEP_FILES, `${at}: ${r.uploaded.profiles} profiles kept, retention is ${KEEP_FILES}`);
      assert.equal(r.uploaded.temporary, 0, `${at}: no temporary file left behind`);
      // Live samples stand for live memory: one per NATIVE_INTERVAL_BYTES on average, so more
      // than the whole resident memory would mean freed samples are not pruned.
      assert.ok(r.native.liveSamples * NATIVE_INTERVAL_BYTES <= r.rss, `${at}: ${r.native.liveSamples} live samples in ${r.rss} bytes resident`);
    }
    for (const r of steady) {
      assert.equal(r.uploaded.profiles, KEEP_FILES, `report at ${r.t} s: the retention limit is reached and kept`);
      assert.ok(sum(Object.values(r.allocscopeResources)) <= MAX_ALLOCSCOPE_RESOURCES, `report at ${r.t} s: allocscope's live async resources ${JSON.stringify(r.allocscopeResources)}`);
    }

    // Idle: the same periodic work over and over; what grows per period is what allocscope keeps.
    const [first, last] = [idle[0], idle.at(-1)];
    const periods = Math.round((last.delivery.delivered - first.delivery.delivered) / KINDS);
    assert.ok(periods > 0, 'profiles were delivered while idle');
    const growth = {
      heapUsed: floorOf(idle.slice(-3), 'heapUsed') - floorOf(idle.slice(0, 3), 'heapUsed'),
      arrayBuffers: floorOf(idle.slice(-3), 'arrayBuffers') - floorOf(idle.slice(0, 3), 'arrayBuffers'),
      profilerBytes: last.native.profilerBytes - first.native.profilerBytes,
    };
    t.diagnostic(`idle growth over ${periods} periods, per period: ${Object.entries(growth).map(([what, bytes]) => `${what} ${Math.round(bytes / periods)} B`).join(', ')}`);
    for (const [what, bytes] of Object.entries(growth)) {
      assert.ok(bytes / periods <= MAX_GROWTH_PER_PERIOD, `${what} grew ${bytes} bytes over ${periods} idle periods`);
    }
    assert.ok(last.fds <= first.fds, `file descriptors once idle: ${first.fds} then ${last.fds}`);

    // At exit, the final profiles replaced the oldest: the newest periods are complete.
    const names = fs.readdirSync(uploadDir);
    assert.equal(names.length, KEEP_FILES, names.join(', '));
    const sequences = names.map((name) => Number(/-(\d{4,})\.(?:heap|native|handles)\.pb\.gz$/.exec(name)?.[1]));
    assert.ok(Math.min(...sequences) > last.uploaded.lastSequence - KEEP_FILES / KINDS, 'the files at exit are the newest');
    for (const sequence of new Set(sequences)) assert.equal(sequences.filter((s) => s === sequence).length, KINDS, `period ${sequence} has all ${KINDS} profiles`);
  });
});
