// Measures what native heap profilers cost a Node workload that mallocs through Node itself (Buffers, zlib, crypto).
'use strict';
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, parseSkip, parsePositiveInt, writeJson } = require('./lib/cli');
const { beginRun, endRun } = require('./lib/env');
const { findPeers, formatPeers, peerSpec } = require('./lib/native-peers');
const { makeState, runUnits } = require('./lib/native-unit');
const { loadAllocscope } = require('./lib/profilers');
const { summarize, ratio, median, mulberry32, shuffled, bootstrapRatioCI, bootstrapPairedCI } = require('./lib/stats');
const { formatOpsTable, formatTable, fmt, fmtRatio, fmtRatioWithCI } = require('./lib/table');

const DEFAULT_UNITS = 25_000;
const WARMUP_UNITS = 5_000;
const PAIRED_PROCESSES = 5;
const PAIRED_BLOCKS = 16;
const PAIRED_UNITS = 4_000;
// Units run right after each phase's start, timed apart: the profilers' start-up (hooks patched,
// first samples of every stack interned and named anew) is not their cost in a service that
// leaves them on, so the phase's speed is measured after it, as part 1 does; both are reported.
const PAIRED_SETTLE_UNITS = 500;
const PAIRED_PHASES = ['baseline', 'baseline-2', 'allocscope', 'allocscope-native', 'allocscope-native-2m', 'allocscope-heap', 'allocscope-hooks'];
// What each profiled phase starts (and stops after it).
const PAIRED_PROFILERS = {
  allocscope: { heap: true, native: true },
  'allocscope-native': { heap: false, native: true },
  // A quarter of the samples: how the native cost scales with them (against native and hooks).
  'allocscope-native-2m': { heap: false, native: true, nativeOptions: { intervalBytes: 2 * 1024 * 1024 } },
  'allocscope-heap': { heap: true, native: false },
  // The hooks with almost no samples: what the fast paths alone cost this workload.
  'allocscope-hooks': { heap: false, native: true, nativeOptions: { intervalBytes: 1024 * 1024 * 1024 } },
};
const TARGET_RATIO = 0.97;

const USAGE = `Usage: node bench/native-workload.js [--rounds N] [--quick] [--units N] [--skip LIST]
                                    [--paired-processes P] [--jemalloc PATH] [--heaptrack PATH]
                                    [--seed S] [--json FILE]

Throughput of a Node workload whose memory comes from malloc inside Node, with and without native
heap profilers. One op (unit) is: 8 Buffer.allocUnsafeSlow of sizes drawn log-uniformly from
64 B to 256 KiB (first and last byte written; the last 64 kept alive in a ring, so they are freed
by GC later), one zlib.deflateSync of a 256 B - 4 KiB text, and one sha256 createHash/update/
update/digest. Seeded, so every configuration does the same work (the checksum proves it).

Part 1, fresh processes: each trial is a new process that runs ${WARMUP_UNITS.toLocaleString('en-US')} warm-up units, then --units
(default ${DEFAULT_UNITS.toLocaleString('en-US')}) timed, and reports ops/s. Configurations, in a shuffled order in every round:

  baseline       no profiler (glibc malloc)
  baseline-2     the same again: the A/A control
  allocscope     heap.start() and native.start(), both at their defaults (512 KiB; native sample budget 100/s)
  jemalloc       LD_PRELOAD=libjemalloc.so.2, no profiling: the allocator change alone
  jemalloc-prof  LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,lg_prof_sample:19 (512 KiB)
  heaptrack      heaptrack node ... (every call recorded; its data file goes to a temp dir)

Reports median ops/s, min-max, IQR, the ratio of medians to baseline with a 95% bootstrap CI
and the per-round paired ratio.

Part 2, paired in-process (allocscope only; fresh processes on a shared machine move by ~10%):
each of P processes (default ${PAIRED_PROCESSES}; --quick: 2) warms up, then runs ${PAIRED_BLOCKS} blocks of seven phases in a
shuffled order: baseline, baseline-2, allocscope (heap.start() and native.start() before the
phase, both stopped after it), allocscope-native (native.start() alone), allocscope-native-2m
(the same at a 2 MiB interval: a quarter of the samples), allocscope-heap (heap.start() alone)
and allocscope-hooks (native.start() at a 1 GiB interval: the hooks with
almost no samples). Each phase first runs ${PAIRED_SETTLE_UNITS} units, timed apart (the profilers' start-up: hooks
patched, every stack's first sample interned and named anew), then the ${PAIRED_UNITS.toLocaleString('en-US')} units its speed
is measured on (a service leaves the profilers on; part 1 also warms up after starting them).
Speed = total baseline time / total phase time over all blocks, with a 95% CI from resampling
whole blocks; the speed over the first units is reported beside it.

Target (reported, not asserted): allocscope >= ${TARGET_RATIO} of baseline.

  --rounds N            rounds of part 1 (default 7; --quick: 3)
  --quick               fewer rounds and processes, for a smoke run
  --units N             timed units per part-1 trial (default ${DEFAULT_UNITS.toLocaleString('en-US')})
  --skip LIST           configurations to leave out, comma-separated (also 'fresh' or 'paired')
  --paired-processes P  processes of part 2 (default ${PAIRED_PROCESSES}; --quick: 2)
  --jemalloc PATH       libjemalloc.so.2 to preload (default: found in the usual library directories)
  --heaptrack PATH      heaptrack launcher (default: from PATH)
  --seed S              seed of the shuffles (default: time-based; printed)
  --json FILE           also write the results as JSON
  -h, --help            this help
  (internal: --trial CONFIG / --trial paired run in a child process)`;

const CONFIG_NAMES = ['baseline', 'baseline-2', 'allocscope', 'jemalloc', 'jemalloc-prof', 'heaptrack'];

// ---------------------------------------------------------------------------------------------
// The children.

function startAllocscope() {
  const { heap, native } = loadAllocscope();
  heap.start();
  native.start();
  return { heap, native };
}

/** Stops allocscope after a trial and says what it saw: samples, drops, and the profiles' sizes. */
function finishAllocscope({ heap, native }) {
  if (!heap.isRunning()) throw new Error('allocscope heap profiler stopped running during the trial');
  const stats = native.stats();
  if (!stats.running) throw new Error('allocscope native profiler stopped running during the trial');
  const nativeProfile = native.profile();
  const heapProfile = heap.profile();
  native.stop();
  heap.stop();
  return {
    nativeSamples: stats.samples,
    dropped: stats.droppedRingFull + stats.droppedTableFull + stats.droppedStackTableFull,
    hookedObjects: stats.hookedObjects,
    profilerMiB: stats.profilerBytes / 2 ** 20,
    nativeProfileSamples: nativeProfile.samples.length,
    heapProfileSamples: heapProfile.samples.length,
  };
}

function runTrial(config, units) {
  const profiler = config === 'allocscope' ? startAllocscope() : undefined;
  const state = makeState(42);
  runUnits(state, WARMUP_UNITS);
  const start = process.hrtime.bigint();
  runUnits(state, units);
  const elapsedNs = Number(process.hrtime.bigint() - start);
  const rssBytes = process.memoryUsage().rss;
  reportResult({
    config,
    units,
    ms: elapsedNs / 1e6,
    opsPerSec: units / (elapsedNs / 1e9),
    checksum: state.checksum,
    rssBytes,
    allocscope: profiler ? finishAllocscope(profiler) : undefined,
  });
}

function runPairedTrial(seed) {
  const { heap, native } = loadAllocscope();
  const state = makeState(42);
  runUnits(state, WARMUP_UNITS);
  const rng = mulberry32(seed);
  const blocks = [];
  const settleBlocks = [];
  const samples = [];
  for (let b = 0; b < PAIRED_BLOCKS; b++) {
    const times = {};
    const settleTimes = {};
    for (const phase of shuffled(PAIRED_PHASES, rng)) {
      const profiled = PAIRED_PROFILERS[phase];
      if (profiled?.heap) heap.start();
      if (profiled?.native) native.start(profiled.nativeOptions);
      const started = process.hrtime.bigint();
      runUnits(state, PAIRED_SETTLE_UNITS);
      const settled = process.hrtime.bigint();
      runUnits(state, PAIRED_UNITS);
      times[phase] = Number(process.hrtime.bigint() - settled) / 1e6;
      settleTimes[phase] = Number(settled - started) / 1e6;
      if (profiled?.heap && !heap.isRunning()) throw new Error(`allocscope's heap profiler stopped during the ${phase} phase`);
      if (profiled?.native) {
        const stats = native.stats();
        if (!stats.running) throw new Error(`allocscope's native profiler stopped during the ${phase} phase`);
        if (profiled.nativeOptions === undefined) samples.push(stats.samples);  // default-interval phases
        native.stop();
      }
      if (profiled?.heap) heap.stop();
    }
    blocks.push(times);
    settleBlocks.push(settleTimes);
  }
  reportResult({ blocks, settleBlocks, nativeSamplesPerPhase: median(samples), checksum: state.checksum });
}

// ---------------------------------------------------------------------------------------------
// The parent, part 1.

function configSpec(name, peers) {
  switch (name) {
    case 'baseline':
      return { describe: 'no profiler', spawn: () => ({}) };
    case 'baseline-2':
      return { describe: 'no profiler (identical to baseline: the A/A control)', spawn: () => ({}) };
    case 'allocscope':
      return { describe: 'allocscope heap.start() + native.start(), defaults (512 KiB each, native budget 100/s)', spawn: () => ({}) };
    default:
      return peerSpec(name, peers);
  }
}

async function runFresh(options, log = console.log) {
  const peers = findPeers({ jemalloc: options.jemalloc, heaptrack: options.heaptrack });
  log(formatPeers(peers));
  const specs = {};
  for (const name of CONFIG_NAMES) {
    if (options.skip.includes(name)) continue;
    const spec = configSpec(name, peers);
    if (spec.unavailable) log(`  skipping ${name}: ${spec.unavailable}`);
    else specs[name] = spec;
  }
  const names = Object.keys(specs);
  if (!names.includes('baseline')) throw new Error('baseline cannot be skipped');
  const rng = mulberry32(options.seed);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const rounds = [];
  log(`native-workload: ${options.rounds} rounds x ${names.length} configurations, ${options.units.toLocaleString('en-US')} units per trial, shuffle seed ${options.seed}`);
  for (let round = 1; round <= options.rounds; round++) {
    const order = shuffled(names, rng);
    const row = {};
    for (const config of order) {
      const how = specs[config].spawn();
      let result;
      const started = Date.now();
      try {
        result = await runChild(__filename, ['--trial', config, '--units', String(options.units)], how);
        if (how.after) result.outputBytes = how.after.outputBytes();
      } finally {
        how.after?.cleanup();
      }
      result.wallMs = Date.now() - started;
      results[config].push(result);
      row[config] = result.opsPerSec;
    }
    rounds.push({ order, opsPerSec: row });
    log(`  round ${round}/${options.rounds}: ${order.map((c) => `${c} ${fmt(row[c])}`).join(', ')} ops/s`);
  }
  const checksums = new Set(names.flatMap((n) => results[n].map((r) => r.checksum)));
  if (checksums.size !== 1) throw new Error(`trials did different work: checksums ${[...checksums].join(', ')}`);
  const base = results.baseline.map((r) => r.opsPerSec);
  const rows = names.map((config) => {
    const values = results[config].map((r) => r.opsPerSec);
    const ops = summarize(values);
    const checks = results[config].filter((r) => r.allocscope).map((r) => r.allocscope);
    const outputs = results[config].filter((r) => r.outputBytes !== undefined).map((r) => r.outputBytes);
    return {
      config,
      describe: specs[config].describe,
      opsPerSec: ops,
      ratioOfMedians: ratio(ops.median, median(base)),
      ratioCI: bootstrapRatioCI(values, base, { seed: options.seed }),
      pairedRatio: summarize(rounds.map((r) => r.opsPerSec[config] / r.opsPerSec.baseline)),
      rssMiB: median(results[config].map((r) => r.rssBytes / 2 ** 20)),
      wallMs: median(results[config].map((r) => r.wallMs)),
      allocscope: checks.length
        ? {
            nativeSamples: median(checks.map((c) => c.nativeSamples)),
            dropped: Math.max(...checks.map((c) => c.dropped)),
            hookedObjects: median(checks.map((c) => c.hookedObjects)),
            profilerMiB: median(checks.map((c) => c.profilerMiB)),
            nativeProfileSamples: median(checks.map((c) => c.nativeProfileSamples)),
            heapProfileSamples: median(checks.map((c) => c.heapProfileSamples)),
          }
        : undefined,
      outputMiB: outputs.length ? median(outputs) / 2 ** 20 : undefined,
    };
  });
  let jemallocProfOverJemalloc;
  if (results.jemalloc && results['jemalloc-prof']) {
    const a = results['jemalloc-prof'].map((r) => r.opsPerSec);
    const b = results.jemalloc.map((r) => r.opsPerSec);
    jemallocProfOverJemalloc = { ratio: ratio(median(a), median(b)), ci: bootstrapRatioCI(a, b, { seed: options.seed }) };
  }
  return { benchmark: 'native-workload', peers, rounds: options.rounds, units: options.units, checksum: [...checksums][0], rows, jemallocProfOverJemalloc, roundsDetail: rounds };
}

function formatFresh(summary) {
  const byName = Object.fromEntries(summary.rows.map((r) => [r.config, r]));
  const lines = [
    `native-workload, fresh processes: ${summary.rounds} rounds, ${summary.units.toLocaleString('en-US')} units per trial (checksum ${summary.checksum} in every trial); higher is faster`,
    formatOpsTable(summary.rows),
    '',
  ];
  for (const r of summary.rows) {
    let note = `  ${r.config}: ${r.describe}; median wall time per trial ${fmt(r.wallMs / 1000, 1)} s`;
    if (r.allocscope) {
      const a = r.allocscope;
      note += `; ${fmt(a.nativeSamples)} native samples per trial (median), ${a.dropped} dropped at most, ${a.hookedObjects} objects hooked, ${fmt(a.profilerMiB, 1)} MiB own memory; profiles after the run: ${fmt(a.nativeProfileSamples)} native, ${fmt(a.heapProfileSamples)} JS heap samples`;
    }
    if (r.outputMiB !== undefined) note += `; ${fmt(r.outputMiB, 1)} MiB data file per trial`;
    lines.push(note);
  }
  lines.push('');
  if (byName['baseline-2']) lines.push(`noise floor (A/A): baseline-2 / baseline = ${fmtRatioWithCI(byName['baseline-2'])}`);
  if (byName.allocscope) lines.push(`allocscope / baseline = ${fmtRatioWithCI(byName.allocscope)} (target >= ${TARGET_RATIO}; reported, not asserted)`);
  if (byName['jemalloc-prof']) lines.push(`jemalloc-prof / baseline = ${fmtRatioWithCI(byName['jemalloc-prof'])}`);
  if (summary.jemallocProfOverJemalloc) {
    const j = summary.jemallocProfOverJemalloc;
    lines.push(`jemalloc-prof / jemalloc = ${fmtRatio(j.ratio)} [${fmtRatio(j.ci.low)}..${fmtRatio(j.ci.high)}] (its profiler alone)`);
  }
  if (byName.jemalloc) lines.push(`jemalloc / baseline = ${fmtRatioWithCI(byName.jemalloc)} (allocator change, no profiling)`);
  if (byName.heaptrack) lines.push(`heaptrack / baseline = ${fmtRatioWithCI(byName.heaptrack)}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The parent, part 2.

async function runPaired(options, log = console.log) {
  log(`native-workload paired: ${options.processes} processes x ${PAIRED_BLOCKS} blocks x ${PAIRED_PHASES.length} phases of ${PAIRED_UNITS.toLocaleString('en-US')} units, seed ${options.seed}`);
  const blocks = [];
  const settleBlocks = [];
  const samples = [];
  const checksums = new Set();
  for (let p = 0; p < options.processes; p++) {
    const result = await runChild(__filename, ['--trial', 'paired', '--seed', String((options.seed + p) >>> 0)]);
    blocks.push(...result.blocks);
    settleBlocks.push(...result.settleBlocks);
    samples.push(result.nativeSamplesPerPhase);
    checksums.add(result.checksum);
    log(`  process ${p + 1}/${options.processes}: median phase ms ${PAIRED_PHASES.map((ph) => `${ph} ${median(result.blocks.map((b) => b[ph])).toFixed(1)}`).join(', ')}`);
  }
  if (checksums.size !== 1) throw new Error(`paired processes did different work: checksums ${[...checksums].join(', ')}`);
  const total = (sample, phase) => sample.reduce((sum, b) => sum + b[phase], 0);
  const rows = PAIRED_PHASES.map((phase) => {
    const speedOf = (sample) => total(sample, 'baseline') / total(sample, phase);
    return {
      phase,
      ms: summarize(blocks.map((b) => b[phase])),
      speed: speedOf(blocks),
      ci: bootstrapPairedCI(blocks, speedOf, { seed: options.seed }),
      settleSpeed: speedOf(settleBlocks),
    };
  });
  return { benchmark: 'native-workload-paired', processes: options.processes, blocks: blocks.length, phaseUnits: PAIRED_UNITS, settleUnits: PAIRED_SETTLE_UNITS, nativeSamplesPerPhase: median(samples), rows, blocksDetail: blocks, settleBlocksDetail: settleBlocks };
}

function formatPaired(summary) {
  const by = Object.fromEntries(summary.rows.map((r) => [r.phase, r]));
  const withCI = (r) => `${fmtRatio(r.speed)} [${fmtRatio(r.ci.low)}..${fmtRatio(r.ci.high)}]`;
  return [
    `native-workload, paired in-process: ${summary.blocks} blocks (${summary.processes} processes x ${PAIRED_BLOCKS}) of ${summary.settleUnits.toLocaleString('en-US')} + ${PAIRED_UNITS.toLocaleString('en-US')} units per phase; speed = total baseline time / total time, over the ${PAIRED_UNITS.toLocaleString('en-US')} units after the first ${summary.settleUnits.toLocaleString('en-US')} (and over those first units: start-up)`,
    formatTable(
      [{ title: 'phase', align: 'left' }, { title: 'phase ms median', align: 'right' }, { title: 'min-max', align: 'right' },
        { title: 'speed vs baseline', align: 'right' }, { title: '95% CI', align: 'right' }, { title: `first ${summary.settleUnits} units`, align: 'right' }],
      summary.rows.map((r) => [r.phase, r.ms.median.toFixed(1), `${r.ms.min.toFixed(1)}-${r.ms.max.toFixed(1)}`, fmtRatio(r.speed),
        r.phase === 'baseline' ? '' : `${fmtRatio(r.ci.low)}..${fmtRatio(r.ci.high)}`, fmtRatio(r.settleSpeed)]),
    ),
    '',
    `  allocscope and allocscope-native phases took ${fmt(summary.nativeSamplesPerPhase)} native samples each (median)`,
    `noise floor (A/A): ${withCI(by['baseline-2'])}; allocscope (heap + native): ${withCI(by.allocscope)} (target >= ${TARGET_RATIO}); native alone: ${withCI(by['allocscope-native'])}, at 2 MiB ${withCI(by['allocscope-native-2m'])}; heap alone: ${withCI(by['allocscope-heap'])}; hooks alone: ${withCI(by['allocscope-hooks'])}`,
  ].join('\n');
}

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE,
    defaultRounds: 7,
    quickRounds: 3,
    extra: {
      units: { type: 'string' },
      skip: { type: 'string' },
      'paired-processes': { type: 'string' },
      jemalloc: { type: 'string' },
      heaptrack: { type: 'string' },
      trial: { type: 'string' },
    },
  });
  const units = options.units !== undefined ? Number(options.units) : DEFAULT_UNITS;
  if (!Number.isInteger(units) || units < 1) throw new Error(`--units must be a positive integer, got ${options.units}`);
  if (options.trial === 'paired') {
    runPairedTrial(options.seed);
    return;
  }
  if (options.trial !== undefined) {
    runTrial(options.trial, units);
    return;
  }
  const skip = parseSkip(options.skip, CONFIG_NAMES, ['fresh', 'paired']);
  const processes = parsePositiveInt('paired-processes', options['paired-processes'], options.quick ? 2 : PAIRED_PROCESSES);
  const run = beginRun();
  let fresh;
  let paired;
  if (!skip.includes('fresh')) {
    fresh = await runFresh({ rounds: options.rounds, seed: options.seed, units, skip, jemalloc: options.jemalloc, heaptrack: options.heaptrack });
    console.log(`\n${formatFresh(fresh)}\n`);
  }
  if (!skip.includes('paired')) {
    paired = await runPaired({ processes, seed: options.seed });
    console.log(`\n${formatPaired(paired)}`);
  }
  endRun(run);
  if (options.json) writeJson(options.json, { environment: run.env, seed: options.seed, fresh, paired });
}

module.exports = { runFresh, formatFresh, runPaired, formatPaired };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
