// Measures allocation-heavy JS throughput (ops/s) with no profiler, allocscope, or @datadog/pprof sampling the heap.
'use strict';
const { summarize, ratio, median, mulberry32, shuffled, bootstrapRatioCI } = require('./lib/stats');
const { formatOpsTable, fmt, fmtRatio, fmtRatioWithCI } = require('./lib/table');
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { environment, formatEnvironment } = require('./lib/env');
const { loadAllocscope, loadDatadog } = require('./lib/profilers');

const INTERVAL_BYTES = 512 * 1024;
const STACK_DEPTH = 64;
const DEFAULT_UNITS = 500_000;
const WARMUP_UNITS = 150_000;

/** Each configuration: how a trial process sets up before the workload runs. */
const CONFIGS = {
  baseline: { describe: 'no profiler', setup: () => undefined },
  'baseline-2': { describe: 'no profiler (identical to baseline: the A/A control)', setup: () => undefined },
  allocscope: {
    describe: 'allocscope heap.start() (defaults: intervalBytes 512 KiB, stackDepth 64)',
    setup() {
      const { heap } = loadAllocscope();
      heap.start();
      return () => {
        if (!heap.isRunning()) throw new Error('allocscope heap profiler stopped running during the trial');
        const profile = heap.profile();
        heap.stop();
        return { samples: profile.samples.length, locations: profile.locations.length };
      };
    },
  },
  datadog: {
    describe: `@datadog/pprof heap.start(${INTERVAL_BYTES}, ${STACK_DEPTH})`,
    setup() {
      const { heap } = loadDatadog();
      heap.start(INTERVAL_BYTES, STACK_DEPTH);
      return () => {
        const profile = heap.profile();
        heap.stop();
        return { samples: profile.sample.length, locations: profile.location.length };
      };
    },
  },
};

const USAGE = `Usage: node bench/alloc-throughput.js [--rounds N] [--quick] [--units N] [--seed S] [--json FILE]

Allocation throughput with and without heap profilers. Each trial is a fresh Node process that
runs a fixed amount of allocation-heavy work (objects, arrays, strings, closures, a retained
cache that churns) and reports ops/s. The configurations baseline, baseline-2 (A/A control),
allocscope (default 512 KiB interval) and datadog (@datadog/pprof, 512 KiB, depth 64) run in a
shuffled order in every round. Prints median, min-max, IQR and the ratio to baseline.

  --rounds N   rounds of all configurations (default 7; --quick: 3)
  --quick      fewer rounds, for a smoke run
  --units N    work units per trial (default ${DEFAULT_UNITS.toLocaleString('en-US')})
  --seed S     seed of the shuffle (default: time-based; printed)
  --json FILE  also write the results as JSON
  -h, --help   this help
  (internal: --trial CONFIG runs one trial in this process and prints its result)`;

// ---------------------------------------------------------------------------------------------
// The workload. One "op" is one unit: a record object retained in a ring (evicting an older one),
// array building with map/filter/reduce, string formatting/splitting (some strings retained),
// JSON round trips, closures, and a Map that keeps a window of keys. Deterministic (seeded), so
// every configuration does the same work; the checksum proves it.

const RING = 100_000; // retained records (old-generation churn as they are replaced)
const STRINGS = 20_000; // retained strings
const WINDOW = 5_000; // Map entries kept alive

function makeState(seed) {
  return {
    rng: mulberry32(seed),
    next: 0,
    ring: new Array(RING).fill(null),
    strings: new Array(STRINGS).fill(''),
    map: new Map(),
    checksum: 0,
  };
}

function makeAdder(k, id) {
  return (x) => x + k + (id & 0xff);
}

function unit(state) {
  const id = state.next++;
  const rng = state.rng;
  // objects: a record with nested arrays, retained in the ring until evicted
  const rec = {
    id,
    name: `user-${id}`,
    score: rng() * 100,
    tags: [`t${id % 7}`, `g${id % 13}`],
    point: { x: id & 1023, y: (id >> 10) & 1023 },
  };
  state.ring[id % RING] = rec;
  // arrays
  const arr = new Array(24);
  for (let i = 0; i < arr.length; i++) arr[i] = (id + i) * 1.5;
  const kept = arr.filter((v) => (v | 0) % 3 !== 0).map((v) => v * 2);
  let sum = kept.reduce((a, b) => a + b, 0);
  // strings
  const line = `${rec.name}:${rec.score.toFixed(2)}:${rec.tags.join(',')}`;
  const parts = line.split(':');
  if ((id & 3) === 0) state.strings[id % STRINGS] = parts[0] + '/' + parts[2];
  sum += parts[1].length;
  // JSON round trip, 1 in 8
  if ((id & 7) === 0) sum += JSON.parse(JSON.stringify(rec)).point.x;
  // closures
  const adders = [makeAdder(1, id), makeAdder(2, id), makeAdder(3, id)];
  for (const add of adders) sum = add(sum) % 1_000_003;
  // a Map keeping a sliding window of entries
  state.map.set(`k${id}`, { id, sum });
  if (id >= WINDOW) state.map.delete(`k${id - WINDOW}`);
  state.checksum = (state.checksum + (sum | 0)) % 2_147_483_647;
}

function runUnits(state, units) {
  for (let i = 0; i < units; i++) unit(state);
}

/** Runs one trial in this (child) process and reports its result. */
function runTrial(config, units) {
  const spec = CONFIGS[config];
  if (spec === undefined) throw new Error(`unknown configuration ${config}`);
  const finish = spec.setup();
  const state = makeState(42);
  runUnits(state, WARMUP_UNITS);
  const start = process.hrtime.bigint();
  runUnits(state, units);
  const elapsedNs = Number(process.hrtime.bigint() - start);
  const memory = process.memoryUsage();
  const profile = finish === undefined ? undefined : finish();
  reportResult({
    config,
    units,
    ms: elapsedNs / 1e6,
    opsPerSec: units / (elapsedNs / 1e9),
    checksum: state.checksum,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    profile,
  });
}

// ---------------------------------------------------------------------------------------------
// The parent: interleaved rounds of fresh processes, then the summary.

async function runBenchmark(options, log = console.log) {
  const names = Object.keys(CONFIGS);
  const rng = mulberry32(options.seed);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const rounds = [];
  log(`alloc-throughput: ${options.rounds} rounds x ${names.length} configurations, ${options.units.toLocaleString('en-US')} units per trial, shuffle seed ${options.seed}`);
  for (let round = 1; round <= options.rounds; round++) {
    const order = shuffled(names, rng);
    const row = {};
    for (const config of order) {
      const result = await runChild(__filename, ['--trial', config, '--units', String(options.units)]);
      results[config].push(result);
      row[config] = result.opsPerSec;
    }
    rounds.push({ order, opsPerSec: row });
    log(`  round ${round}/${options.rounds}: ${order.map((c) => `${c} ${fmt(row[c])}`).join(', ')} ops/s`);
  }
  const checksums = new Set(names.flatMap((n) => results[n].map((r) => r.checksum)));
  if (checksums.size !== 1) throw new Error(`trials did different work: checksums ${[...checksums].join(', ')}`);
  return summarizeThroughput(names, results, rounds);
}

function summarizeThroughput(names, results, rounds) {
  const base = summarize(results.baseline.map((r) => r.opsPerSec));
  const rows = names.map((config) => {
    const ops = summarize(results[config].map((r) => r.opsPerSec));
    const ms = summarize(results[config].map((r) => r.ms));
    // Paired: each round's ratio to that round's baseline trial, which ran close in time.
    const paired = summarize(rounds.map((r) => r.opsPerSec[config] / r.opsPerSec.baseline));
    const samples = results[config].filter((r) => r.profile).map((r) => r.profile.samples);
    return {
      config,
      describe: CONFIGS[config].describe,
      opsPerSec: ops,
      ms,
      ratioOfMedians: ratio(ops.median, base.median),
      ratioCI: bootstrapRatioCI(results[config].map((r) => r.opsPerSec), results.baseline.map((r) => r.opsPerSec)),
      pairedRatio: paired,
      rssMiB: median(results[config].map((r) => r.rssBytes / 2 ** 20)),
      profileSamples: samples.length ? median(samples) : undefined,
    };
  });
  return { benchmark: 'alloc-throughput', rounds: rounds.length, units: results.baseline[0].units, checksum: results.baseline[0].checksum, rows, roundsDetail: rounds };
}


function formatThroughput(summary) {
  const byName = Object.fromEntries(summary.rows.map((r) => [r.config, r]));
  const lines = [
    `alloc-throughput: ${summary.rounds} rounds, ${summary.units.toLocaleString('en-US')} units per trial (checksum ${summary.checksum} in every trial)`,
    formatOpsTable(summary.rows),
    '',
    ...summary.rows.map((r) => `  ${r.config}: ${r.describe}${r.profileSamples !== undefined ? `; median ${fmt(r.profileSamples)} samples in the profile taken after the timed run` : ''}`),
    '',
    `noise floor (A/A): baseline-2 / baseline = ${fmtRatioWithCI(byName['baseline-2'])} (ratio of medians, 95% bootstrap CI)`,
    `allocscope / baseline = ${fmtRatioWithCI(byName.allocscope)} (target >= 0.99; reported, not asserted)`,
    `datadog / baseline = ${fmtRatioWithCI(byName.datadog)}`,
    `allocscope / datadog = ${fmtRatio(ratio(byName.allocscope.opsPerSec.median, byName.datadog.opsPerSec.median))}`,
  ];
  return lines.join('\n');
}

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE,
    defaultRounds: 7,
    quickRounds: 3,
    extra: { units: { type: 'string' }, trial: { type: 'string' } },
  });
  const units = options.units !== undefined ? Number(options.units) : DEFAULT_UNITS;
  if (!Number.isInteger(units) || units < 1) throw new Error(`--units must be a positive integer, got ${options.units}`);
  if (options.trial !== undefined) {
    runTrial(options.trial, units);
    return;
  }
  const env = environment();
  console.log(formatEnvironment(env));
  const summary = await runBenchmark({ rounds: options.rounds, seed: options.seed, units });
  console.log('');
  console.log(formatThroughput(summary));
  if (options.json) writeJson(options.json, { environment: env, seed: options.seed, ...summary });
}

module.exports = { runBenchmark, formatThroughput, DEFAULT_UNITS, WARMUP_UNITS, makeState, runUnits };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
