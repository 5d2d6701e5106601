// Runs both benchmarks (alloc-throughput, profile-encode) and prints a summary: `npm run bench`.
'use strict';
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { environment, formatEnvironment } = require('./lib/env');
const { formatTable, fmt, fmtRatio } = require('./lib/table');
const throughput = require('./alloc-throughput');
const encode = require('./profile-encode');

const ROUNDS = { throughput: { full: 7, quick: 3 }, encode: { full: 15, quick: 5 } };

const USAGE = `Usage: node bench/run.js [--rounds N] [--quick] [--seed S] [--json FILE]
       npm run bench -- [flags]

Runs bench/alloc-throughput.js (allocation throughput: no profiler vs allocscope vs
@datadog/pprof, fresh interleaved processes) and bench/profile-encode.js (time to take and
encode a 10,000+ node heap profile: allocscope vs @datadog/pprof on the same V8 samples), then
prints a summary. Takes a few minutes on 2 cores; --quick takes about one.

  --rounds N   rounds for both benchmarks (default ${ROUNDS.throughput.full} throughput rounds and ${ROUNDS.encode.full} encode runs per side;
               --quick: ${ROUNDS.throughput.quick} and ${ROUNDS.encode.quick})
  --quick      fewer rounds, for a smoke run
  --seed S     seed of the shuffles (default: time-based; printed)
  --json FILE  also write both results as JSON
  -h, --help   this help

Numbers are reported, never judged: no result makes this command fail.

The native profiler's benchmarks take about 8 minutes together and run on their own:
node bench/malloc-loop.js and node bench/native-workload.js (--help on each).`;

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), { usage: USAGE, defaultRounds: undefined, quickRounds: undefined });
  const pick = (which) => options.rounds ?? (options.quick ? ROUNDS[which].quick : ROUNDS[which].full);
  const env = environment();
  console.log(formatEnvironment(env));
  console.log(`shuffle seed ${options.seed}\n`);

  const started = Date.now();
  const t = await throughput.runBenchmark({ rounds: pick('throughput'), seed: options.seed, units: throughput.DEFAULT_UNITS });
  console.log(`\n${throughput.formatThroughput(t)}\n`);
  const e = await encode.runBenchmark({ rounds: pick('encode'), seed: options.seed, ...encode.DEFAULTS });
  console.log(`\n${encode.formatEncode(e)}\n`);

  const byName = Object.fromEntries(t.rows.map((r) => [r.config, r]));
  const ci = (c) => `${fmtRatio(c.low)}..${fmtRatio(c.high)}`;
  const tp = (config, label) => ['throughput', label, fmtRatio(byName[config].ratioOfMedians), ci(byName[config].ratioCI), fmtRatio(byName[config].pairedRatio.median), 'ops/s, higher is faster'];
  const rows = [
    tp('baseline-2', 'baseline-2 / baseline (A/A noise floor)'),
    tp('allocscope', 'allocscope / baseline (target >= 0.99)'),
    tp('datadog', 'datadog / baseline'),
    ['profile+encode', 'allocscope / datadog', fmtRatio(e.ratioOfMedians), ci(e.ratioCI), fmtRatio(e.pairedRatio.median), `ms, below 1 = allocscope faster (${fmt(e.tree.before.nodes)}-node tree)`],
    ['encode only', 'allocscope / datadog', fmtRatio(e.encodeOnlyRatio), ci(e.encodeOnlyRatioCI), 'n/a', 'ms, sampler stopped, below 1 = allocscope faster'],
  ];
  console.log('summary (ratio of medians, its 95% bootstrap CI, and the median of per-round paired ratios)');
  console.log(
    formatTable(
      [
        { title: 'benchmark', align: 'left' },
        { title: 'comparison', align: 'left' },
        { title: 'ratio', align: 'right' },
        { title: '95% CI', align: 'right' },
        { title: 'paired', align: 'right' },
        { title: 'unit', align: 'left' },
      ],
      rows,
    ),
  );
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (options.json) writeJson(options.json, { environment: env, seed: options.seed, throughput: t, encode: e });
}

main().catch((error) => {
  console.error(error.stack ?? error);
  process.exit(1);
});
