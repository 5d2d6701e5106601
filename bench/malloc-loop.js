// Measures what a native heap profiler adds to one malloc+free pair: a tight C loop in an addon, timed in C.
'use strict';
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, parseList, parseSkip, parsePositiveInt, writeJson } = require('./lib/cli');
const { beginRun, endRun } = require('./lib/env');
const { findPeers, formatPeers, peerSpec } = require('./lib/native-peers');
const { loadAllocscope } = require('./lib/profilers');
const { summarize, median, ratio, mulberry32, shuffled, bootstrapDiffCI, bootstrapPairedCI } = require('./lib/stats');
const { formatTable, fmt, fmtRatio } = require('./lib/table');

const DEFAULT_SIZES = [64, 1024];
const DEFAULT_SECONDS = 1;
const CHUNKS = 5;
const WARMUP_SECONDS = 0.2;
const TARGET_ADDED_NS = 1.5;
const PAIRED_PROCESSES = 4;
const PAIRED_BLOCKS = 12;
// One kind of paired process runs every phase (a 1 GiB session no longer starves the next 512 KiB
// one of samples: gaps run in pieces of at most 1 MiB, see native/sampler/sampler.h).
const PAIRED_KINDS = { paired: ['baseline', 'baseline-2', 'allocscope', 'allocscope-hooks'] };
const PAIRED_PHASES = PAIRED_KINDS.paired;
const HOOKS_ONLY_INTERVAL = 1024 * 1024 * 1024;
const DEFAULT_INTERVAL = 512 * 1024; // allocscope's default intervalBytes
// The sample budget off: a tight loop mallocs GB/s, and the budget would widen the interval to
// keep ~100 samples a second. This bench measures the cost per pair at a known interval (the
// per-sample cost below depends on it), as jemalloc-prof runs at one.
const FIXED_DEFAULT = { intervalBytes: DEFAULT_INTERVAL, maxSamplesPerSecond: 0 };

const USAGE = `Usage: node bench/malloc-loop.js [--rounds N] [--quick] [--sizes 64,1024] [--seconds S]
                                [--skip CONFIGS] [--jemalloc PATH] [--heaptrack PATH]
                                [--seed S] [--json FILE]

The cost of a native heap profiler on the allocator's fast path. The addon in
bench/fixtures/malloc-loop (built on first use with npm's node-gyp) runs
\`p = malloc(size); *(volatile char*)p = 1; free(p);\` n times in C, through plain calls (its own
GOT), and times the loop with clock_gettime: no JS runs in the timed region. Each trial is a fresh
process: calibrate n during ${WARMUP_SECONDS} s of warm-up, then ${CHUNKS} chunks of S/${CHUNKS} seconds (S = --seconds,
default ${DEFAULT_SECONDS}); the trial's figure is its median chunk, in ns per malloc+free pair.
Configurations, in a shuffled order in every round, for every size:

  baseline      glibc malloc, no profiler
  baseline-2    the same again: the A/A control (noise floor)
  allocscope    native.start() at its default 512 KiB interval, sample budget off, started before the addon
                is loaded (its dlopen hook patches the addon's GOT, as under \`allocscope run\`)
  jemalloc      LD_PRELOAD=libjemalloc.so.2, no profiling: the allocator change alone
  jemalloc-prof LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=prof:true,lg_prof_sample:19 (512 KiB)
  heaptrack     heaptrack node ... (records every call; its data file goes to a temp dir)

jemalloc and heaptrack are skipped when not installed (Debian: apt-get install libjemalloc2
heaptrack). Reports the median, min-max and IQR of ns/pair per configuration, the ns added over
baseline (difference of medians) with a 95% bootstrap CI, and the per-round paired difference.

Fresh processes differ by more than the 1.5 ns to resolve, so a second part pairs in time. For
each size, P processes (--paired-processes, default ${PAIRED_PROCESSES}; --quick: 2) each load the addon, warm
up, then run ${PAIRED_BLOCKS} blocks of phases in a shuffled order, S/${CHUNKS} seconds of looping each:
baseline, baseline-2, allocscope (native.start() before the phase, native.stop() after: the GOT
patched, then restored) and allocscope-hooks (the same with intervalBytes 1 GiB: the hooks' fast
path with almost no samples, which splits the cost into hooks and sampling). Reports the median over blocks of
each phase's ns/pair minus its block's baseline, with a 95% CI from resampling whole blocks.
Target (reported, not asserted): allocscope adds <= ${TARGET_ADDED_NS} ns per pair at 64 bytes.

  --rounds N        rounds of all configurations (default 10; --quick: 3)
  --quick           fewer rounds, for a smoke run
  --sizes LIST      allocation sizes in bytes, comma-separated (default ${DEFAULT_SIZES.join(',')})
  --seconds S       timed looping per trial (default ${DEFAULT_SECONDS})
  --skip LIST       configurations to leave out, comma-separated (also 'fresh' or 'paired': a part)
  --paired-processes P  processes of the paired part (default ${PAIRED_PROCESSES}; --quick: 2)
  --jemalloc PATH   libjemalloc.so.2 to preload (default: found in the usual library directories)
  --heaptrack PATH  heaptrack launcher (default: from PATH)
  --seed S          seed of the shuffle (default: time-based; printed)
  --json FILE       also write the results as JSON
  -h, --help        this help
  (internal: --trial CONFIG --size N runs one trial in this process and prints its result;
   --trial paired --size N --seed S runs the paired part's blocks)`;

const CONFIG_NAMES = ['baseline', 'baseline-2', 'allocscope', 'jemalloc', 'jemalloc-prof', 'heaptrack'];

// ---------------------------------------------------------------------------------------------
// The child: one trial.

/** allocscopeCheck reads back what the native profiler saw of the loop: samples and bytes. */
function allocscopeCheck(native, actualBytes) {
  const stats = native.stats();
  if (!stats.running) throw new Error('allocscope native profiler stopped running during the trial');
  const profile = native.profile();
  const space = profile.sampleTypes.findIndex((t) => t.type === 'alloc_space');
  let loopBytes = 0;
  for (const sample of profile.samples) {
    if (sample.locations.some((loc) => loc.lines.some((l) => l.function.name.includes('malloc_loop_run')))) loopBytes += sample.values[space];
  }
  native.stop();
  return {
    samples: stats.samples,
    dropped: stats.droppedRingFull + stats.droppedTableFull + stats.droppedStackTableFull,
    hookedObjects: stats.hookedObjects,
    // allocscope's unbiased estimate of the bytes malloc_loop_run allocated, over the true count
    estimatedOverActualBytes: loopBytes / actualBytes,
  };
}

function runTrial(config, size, seconds) {
  let native;
  if (config === 'allocscope') {
    ({ native } = loadAllocscope());
    native.start(FIXED_DEFAULT);
  }
  const { ADDON } = require('./fixtures/malloc-loop/build');
  const { loop } = require(ADDON);
  // Warm-up and calibration: grow n until a loop takes a measurable time, then fill WARMUP_SECONDS.
  let pairsDone = 0;
  let n = 10_000;
  let ns = loop(n, size);
  pairsDone += n;
  while (ns < 20e6) {
    n *= 4;
    ns = loop(n, size);
    pairsDone += n;
  }
  const warm = Math.max(1, Math.round((WARMUP_SECONDS * 1e9 * n) / ns));
  ns = loop(warm, size);
  pairsDone += warm;
  const chunkPairs = Math.max(1000, Math.round(((seconds / CHUNKS) * 1e9 * warm) / ns));
  const chunks = [];
  for (let c = 0; c < CHUNKS; c++) {
    chunks.push(loop(chunkPairs, size) / chunkPairs);
    pairsDone += chunkPairs;
  }
  const result = {
    config,
    size,
    chunkPairs,
    chunks,
    nsPerPair: median(chunks),
    meanNsPerPair: chunks.reduce((a, b) => a + b, 0) / chunks.length,
  };
  if (native) result.allocscope = allocscopeCheck(native, pairsDone * size);
  reportResult(result);
}

/** Child of the paired part: alternating phases in this process; reports ns/pair by block. */
function runPairedTrial(kind, size, seconds, seed) {
  const phases = PAIRED_KINDS[kind];
  if (phases === undefined) throw new Error(`unknown paired kind ${kind}`);
  const { native } = loadAllocscope();
  const { ADDON } = require('./fixtures/malloc-loop/build');
  const { loop } = require(ADDON); // loaded first: native.start() patches its GOT, stop() restores it
  const intervals = { allocscope: DEFAULT_INTERVAL, 'allocscope-hooks': HOOKS_ONLY_INTERVAL };
  let n = 10_000;
  let ns = loop(n, size);
  while (ns < 20e6) {
    n *= 4;
    ns = loop(n, size);
  }
  const warm = Math.max(1, Math.round((WARMUP_SECONDS * 1e9 * n) / ns));
  ns = loop(warm, size);
  const phasePairs = Math.max(1000, Math.round(((seconds / CHUNKS) * 1e9 * warm) / ns));
  const rng = mulberry32(seed);
  const blocks = [];
  const samples = {};
  for (let b = 0; b < PAIRED_BLOCKS; b++) {
    const block = {};
    for (const phase of shuffled(phases, rng)) {
      const interval = intervals[phase];
      if (interval) native.start({ ...FIXED_DEFAULT, intervalBytes: interval });
      block[phase] = loop(phasePairs, size) / phasePairs;
      if (interval) {
        const stats = native.stats();
        if (!stats.running) throw new Error(`allocscope native profiler stopped running during the ${phase} phase`);
        // samples taken / samples expected at this interval (about 1 when the hooks sample as designed)
        (samples[phase] ??= []).push({ samples: stats.samples, expected: (phasePairs * size) / interval });
        native.stop();
      }
    }
    blocks.push(block);
  }
  reportResult({ kind, size, phasePairs, blocks, samples });
}

// ---------------------------------------------------------------------------------------------
// The parent.

/** spawnOptions says how a configuration's trial process is run; undefined when unavailable. */
function configSpec(name, peers) {
  switch (name) {
    case 'baseline':
    case 'baseline-2':
      return { describe: name === 'baseline' ? 'glibc malloc, no profiler' : 'glibc malloc, no profiler (the A/A control)', spawn: () => ({}) };
    case 'allocscope':
      return { describe: 'allocscope native.start() at 512 KiB, sample budget off, glibc malloc', spawn: () => ({}) };
    default:
      return peerSpec(name, peers);
  }
}

async function runBenchmark(options, log = console.log) {
  const { buildMallocLoop } = require('./fixtures/malloc-loop/build');
  buildMallocLoop({ log });
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
  const trials = {}; // size -> config -> results
  const rounds = {}; // size -> [{ order, nsPerPair }]
  for (const size of options.sizes) {
    trials[size] = Object.fromEntries(names.map((n) => [n, []]));
    rounds[size] = [];
  }
  log(`malloc-loop: ${options.rounds} rounds x ${options.sizes.length} sizes (${options.sizes.join(', ')} B) x ${names.length} configurations, ${options.seconds} s timed per trial, seed ${options.seed}`);
  for (let round = 1; round <= options.rounds; round++) {
    for (const size of options.sizes) {
      const order = shuffled(names, rng);
      const row = {};
      for (const config of order) {
        const how = specs[config].spawn();
        let result;
        try {
          result = await runChild(__filename, ['--trial', config, '--size', String(size), '--seconds', String(options.seconds)], how);
          if (how.after) result.outputBytes = how.after.outputBytes();
        } finally {
          how.after?.cleanup();
        }
        trials[size][config].push(result);
        row[config] = result.nsPerPair;
      }
      rounds[size].push({ order, nsPerPair: row });
      log(`  round ${round}/${options.rounds}, ${size} B: ${order.map((c) => `${c} ${row[c].toFixed(2)}`).join(', ')} ns/pair`);
    }
  }
  return { benchmark: 'malloc-loop', peers, rounds: options.rounds, seconds: options.seconds, sizes: options.sizes.map((size) => summarizeSize(size, names, specs, trials[size], rounds[size], options.seed)) };
}

async function runPaired(options, log = console.log) {
  const { buildMallocLoop } = require('./fixtures/malloc-loop/build');
  buildMallocLoop({ log });
  const kinds = Object.keys(PAIRED_KINDS);
  log(`malloc-loop paired: ${options.processes} x ${kinds.length} processes (${kinds.map((k) => `${k}: ${PAIRED_KINDS[k].join(', ')}`).join('; ')}) x ${options.sizes.length} sizes, ${PAIRED_BLOCKS} blocks of ${options.seconds / CHUNKS} s phases each, seed ${options.seed}`);
  const empty = () => ({ blocks: [], samples: {}, phasePairs: [] });
  const bySize = Object.fromEntries(options.sizes.map((size) => [size, Object.fromEntries(kinds.map((k) => [k, empty()]))]));
  for (let p = 0; p < options.processes; p++) {
    for (const size of options.sizes) {
      for (const kind of kinds) {
        const seed = (options.seed + 7919 * p + size) >>> 0;
        const args = ['--trial', 'paired', '--kind', kind, '--size', String(size), '--seconds', String(options.seconds), '--seed', String(seed)];
        const result = await runChild(__filename, args);
        const into = bySize[size][kind];
        into.blocks.push(...result.blocks);
        into.phasePairs.push(result.phasePairs);
        for (const [phase, list] of Object.entries(result.samples)) (into.samples[phase] ??= []).push(...list);
        log(`  process ${p + 1}/${options.processes}, ${kind}, ${size} B: median ns/pair ${PAIRED_KINDS[kind].map((ph) => `${ph} ${median(result.blocks.map((b) => b[ph])).toFixed(2)}`).join(', ')}`);
      }
    }
  }
  return {
    benchmark: 'malloc-loop-paired',
    processes: options.processes,
    blocksPerProcess: PAIRED_BLOCKS,
    phaseSeconds: options.seconds / CHUNKS,
    sizes: options.sizes.map((size) => {
      const rows = PAIRED_PHASES.map((phase) => {
        // each phase's row comes from the kind of process that ran it (baseline: the first)
        const kind = kinds.find((k) => PAIRED_KINDS[k].includes(phase));
        const { blocks, samples } = bySize[size][kind];
        const addedOf = (sample) => median(sample.map((b) => b[phase] - b.baseline));
        return {
          phase,
          kind,
          blocks: blocks.length,
          ns: summarize(blocks.map((b) => b[phase])),
          added: addedOf(blocks),
          addedCI: bootstrapPairedCI(blocks, addedOf, { seed: options.seed }),
          samplesPerPhase: samples[phase] ? median(samples[phase].map((x) => x.samples)) : undefined,
          samplesOverExpected: samples[phase] ? median(samples[phase].map((x) => x.samples / x.expected)) : undefined,
        };
      });
      const phasePairs = kinds.flatMap((k) => bySize[size][k].phasePairs);
      return { size, phasePairs: median(phasePairs), rows, blocksDetail: Object.fromEntries(kinds.map((k) => [k, bySize[size][k].blocks])) };
    }),
  };
}

function formatPaired(result) {
  const columns = [
    { title: 'phase', align: 'left' },
    { title: 'processes', align: 'left' },
    { title: 'median ns/pair', align: 'right' },
    { title: 'min', align: 'right' },
    { title: 'max', align: 'right' },
    { title: 'added ns (median of block diffs)', align: 'right' },
    { title: '95% CI', align: 'right' },
    { title: 'samples per phase', align: 'right' },
    { title: 'samples / expected', align: 'right' },
  ];
  const out = [];
  for (const s of result.sizes) {
    out.push(`${s.size} B, paired in-process: ${s.rows[0].blocks} blocks per kind (${result.processes} processes x ${result.blocksPerProcess}), median ${fmt(s.phasePairs)} pairs per phase`);
    out.push(formatTable(columns, s.rows.map((r) => [
      r.phase,
      r.kind,
      fmt(r.ns.median, 2),
      fmt(r.ns.min, 2),
      fmt(r.ns.max, 2),
      r.phase === 'baseline' ? '' : fmt(r.added, 2),
      r.phase === 'baseline' ? '' : `${fmt(r.addedCI.low, 2)}..${fmt(r.addedCI.high, 2)}`,
      r.samplesPerPhase === undefined ? '' : fmt(r.samplesPerPhase),
      r.samplesOverExpected === undefined ? '' : fmtRatio(r.samplesOverExpected),
    ])));
    const by = Object.fromEntries(s.rows.map((r) => [r.phase, r]));
    const added = (r) => `${fmt(r.added, 2)} ns [${fmt(r.addedCI.low, 2)}..${fmt(r.addedCI.high, 2)}]`;
    out.push(`noise floor (A/A): ${added(by['baseline-2'])}; allocscope adds ${added(by.allocscope)}${s.size === 64 ? ` (target <= ${TARGET_ADDED_NS} ns)` : ''}, of which the hooks alone (1 GiB interval) ${added(by['allocscope-hooks'])}`);
    // The rest is sampling: one sample per interval/size pairs on average.
    const perSampleUs = ((by.allocscope.added - by['allocscope-hooks'].added) * (DEFAULT_INTERVAL / s.size)) / 1000;
    const a = by.allocscope.addedCI;
    const h = by['allocscope-hooks'].addedCI;
    if (a.low > h.high) out.push(`sampling share: ${fmt(by.allocscope.added - by['allocscope-hooks'].added, 2)} ns per pair, i.e. about ${fmt(perSampleUs, 1)} us per sample (one sample per ${fmt(DEFAULT_INTERVAL / s.size)} pairs)`);
    else out.push(`sampling share: not resolved (the allocscope and allocscope-hooks intervals overlap; one sample per ${fmt(DEFAULT_INTERVAL / s.size)} pairs)`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}

function summarizeSize(size, names, specs, trials, rounds, seed) {
  const base = trials.baseline.map((r) => r.nsPerPair);
  const rows = names.map((config) => {
    const values = trials[config].map((r) => r.nsPerPair);
    const ns = summarize(values);
    const paired = summarize(rounds.map((r) => r.nsPerPair[config] - r.nsPerPair.baseline));
    const checks = trials[config].filter((r) => r.allocscope).map((r) => r.allocscope);
    const row = {
      config,
      describe: specs[config].describe,
      ns,
      added: ns.median - median(base),
      addedCI: bootstrapDiffCI(values, base, { seed }),
      pairedAdded: paired,
      ratio: ratio(ns.median, median(base)),
      chunkPairs: median(trials[config].map((r) => r.chunkPairs)),
    };
    if (checks.length) {
      row.allocscope = {
        samples: median(checks.map((c) => c.samples)),
        dropped: Math.max(...checks.map((c) => c.dropped)),
        hookedObjects: median(checks.map((c) => c.hookedObjects)),
        estimatedOverActualBytes: summarize(checks.map((c) => c.estimatedOverActualBytes)),
      };
    }
    const outputs = trials[config].filter((r) => r.outputBytes !== undefined).map((r) => r.outputBytes);
    if (outputs.length) row.outputMiB = median(outputs) / 2 ** 20;
    return row;
  });
  const byName = Object.fromEntries(rows.map((r) => [r.config, r]));
  let jemallocProfOverJemalloc;
  if (byName.jemalloc && byName['jemalloc-prof']) {
    const a = trials['jemalloc-prof'].map((r) => r.nsPerPair);
    const b = trials.jemalloc.map((r) => r.nsPerPair);
    jemallocProfOverJemalloc = { added: median(a) - median(b), ci: bootstrapDiffCI(a, b, { seed }) };
  }
  return { size, rows, jemallocProfOverJemalloc, roundsDetail: rounds };
}

function formatSize(summary) {
  const columns = [
    { title: 'config', align: 'left' },
    { title: 'median ns/pair', align: 'right' },
    { title: 'min', align: 'right' },
    { title: 'max', align: 'right' },
    { title: 'IQR', align: 'right' },
    { title: 'added ns', align: 'right' },
    { title: '95% CI', align: 'right' },
    { title: 'paired added median [min..max]', align: 'right' },
    { title: 'x baseline', align: 'right' },
  ];
  const rows = summary.rows.map((r) => [
    r.config,
    fmt(r.ns.median, 2),
    fmt(r.ns.min, 2),
    fmt(r.ns.max, 2),
    fmt(r.ns.iqr, 2),
    r.config === 'baseline' ? '' : fmt(r.added, 2),
    r.config === 'baseline' ? '' : `${fmt(r.addedCI.low, 2)}..${fmt(r.addedCI.high, 2)}`,
    r.config === 'baseline' ? '' : `${fmt(r.pairedAdded.median, 2)} [${fmt(r.pairedAdded.min, 2)}..${fmt(r.pairedAdded.max, 2)}]`,
    fmtRatio(r.ratio),
  ]);
  const byName = Object.fromEntries(summary.rows.map((r) => [r.config, r]));
  const added = (r) => `${fmt(r.added, 2)} ns [${fmt(r.addedCI.low, 2)}..${fmt(r.addedCI.high, 2)}]`;
  const lines = [`${summary.size} B: ns per malloc+free pair (median of each trial's ${CHUNKS} chunks; added = difference of medians to baseline, 95% bootstrap CI)`, formatTable(columns, rows), ''];
  for (const r of summary.rows) {
    let note = `  ${r.config}: ${r.describe}; ${fmt(r.chunkPairs)} pairs per chunk`;
    if (r.allocscope) {
      const e = r.allocscope.estimatedOverActualBytes;
      note += `; ${fmt(r.allocscope.samples)} samples per trial (median), ${r.allocscope.dropped} dropped at most, ${r.allocscope.hookedObjects} objects hooked; profile's malloc_loop_run bytes / true bytes ${fmtRatio(e.median)} [${fmtRatio(e.min)}..${fmtRatio(e.max)}]`;
    }
    if (r.outputMiB !== undefined) note += `; ${fmt(r.outputMiB, 1)} MiB data file per trial`;
    lines.push(note);
  }
  lines.push('');
  if (byName['baseline-2']) lines.push(`noise floor (A/A): baseline-2 - baseline = ${added(byName['baseline-2'])}`);
  if (byName.allocscope) lines.push(`allocscope adds ${added(byName.allocscope)} per pair${summary.size === 64 ? ` (target <= ${TARGET_ADDED_NS} ns; reported, not asserted)` : ''}`);
  if (byName['jemalloc-prof']) lines.push(`jemalloc-prof adds ${added(byName['jemalloc-prof'])} over glibc baseline`);
  if (summary.jemallocProfOverJemalloc) {
    const j = summary.jemallocProfOverJemalloc;
    lines.push(`jemalloc-prof adds ${fmt(j.added, 2)} ns [${fmt(j.ci.low, 2)}..${fmt(j.ci.high, 2)}] over jemalloc without profiling (its profiler alone)`);
  }
  if (byName.heaptrack) lines.push(`heaptrack adds ${added(byName.heaptrack)} over glibc baseline`);
  return lines.join('\n');
}

function formatMallocLoop(result) {
  return result.sizes.map(formatSize).join('\n\n');
}

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE,
    defaultRounds: 10,
    quickRounds: 3,
    extra: {
      sizes: { type: 'string' },
      seconds: { type: 'string' },
      skip: { type: 'string' },
      jemalloc: { type: 'string' },
      heaptrack: { type: 'string' },
      trial: { type: 'string' },
      size: { type: 'string' },
      'paired-processes': { type: 'string' },
      kind: { type: 'string' },
    },
  });
  const seconds = options.seconds !== undefined ? Number(options.seconds) : DEFAULT_SECONDS;
  if (!(seconds > 0)) throw new Error(`--seconds must be positive, got ${options.seconds}`);
  if (options.trial === 'paired') {
    runPairedTrial(options.kind, Number(options.size), seconds, options.seed);
    return;
  }
  if (options.trial !== undefined) {
    runTrial(options.trial, Number(options.size), seconds);
    return;
  }
  const sizes = parseList(options.sizes, DEFAULT_SIZES).map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--sizes must be positive integers, got ${options.sizes}`);
  const skip = parseSkip(options.skip, CONFIG_NAMES, ['fresh', 'paired']);
  const processes = parsePositiveInt('paired-processes', options['paired-processes'], options.quick ? 2 : PAIRED_PROCESSES);
  const run = beginRun();
  let fresh;
  let paired;
  if (!skip.includes('fresh')) {
    fresh = await runBenchmark({ rounds: options.rounds, seed: options.seed, sizes, seconds, skip, jemalloc: options.jemalloc, heaptrack: options.heaptrack });
    console.log('');
    console.log(formatMallocLoop(fresh));
    console.log('');
  }
  if (!skip.includes('paired')) {
    paired = await runPaired({ processes, seed: options.seed, sizes, seconds });
    console.log('');
    console.log(formatPaired(paired));
  }
  endRun(run);
  if (options.json) writeJson(options.json, { environment: run.env, seed: options.seed, fresh, paired });
}

module.exports = { runBenchmark, formatMallocLoop, runPaired, formatPaired };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
