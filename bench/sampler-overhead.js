// Measures what a running heap sampler costs allocation-heavy JS, by alternating short phases inside each process.
'use strict';
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { environment, formatEnvironment } = require('./lib/env');
const { loadAllocscope, loadDatadog } = require('./lib/profilers');
const { median, mulberry32, shuffled, summarize, bootstrapPairedCI } = require('./lib/stats');
const { formatTable, fmtRatio } = require('./lib/table');
const { makeState, runUnits, WARMUP_UNITS } = require('./alloc-throughput');

const USAGE = `Usage: node bench/sampler-overhead.js [--rounds N] [--quick] [--seed S] [--json FILE]

The fresh-process comparison in alloc-throughput.js cannot resolve 1% on a shared machine: its
A/A control moves by 10% and more between processes. This benchmark pairs measurements in time
instead. Each of N processes (default 5; --quick: 2) warms the workload up, then runs 16 blocks;
a block runs four phases of the same work (40,000 units of alloc-throughput's workload) in a
shuffled order: baseline, baseline-2 (the A/A control), allocscope (heap.start() with its
defaults, 512 KiB) and datadog (@datadog/pprof heap.start(512 KiB, 64)); each profiler is
started before its phase and stopped after it. Every phase is compared with the baseline phase of
its own block, so drift of the machine's speed cancels out. Reports each configuration's speed
as total baseline time / its total time over all blocks (totals, not medians: the workload's major
GCs land in random phases, and totals spread them evenly), with a 95% bootstrap interval from
resampling whole blocks, and the per-phase times.`;

const PHASES = ['baseline', 'baseline-2', 'allocscope', 'datadog'];
const BLOCKS = 16;
const PHASE_UNITS = 40_000;
const INTERVAL_BYTES = 512 * 1024;

/** Child: alternating phases in this process; reports phase times in ms by block. */
function trial(seed) {
  const { heap } = loadAllocscope();
  const datadog = loadDatadog();
  const profilers = {
    allocscope: { start: () => heap.start(), stop: () => heap.stop() },
    datadog: { start: () => datadog.heap.start(INTERVAL_BYTES, 64), stop: () => datadog.heap.stop() },
  };
  const state = makeState(42);
  runUnits(state, WARMUP_UNITS);
  const rng = mulberry32(seed);
  const blocks = [];
  for (let b = 0; b < BLOCKS; b++) {
    const times = {};
    for (const phase of shuffled(PHASES, rng)) {
      profilers[phase]?.start();
      const start = process.hrtime.bigint();
      runUnits(state, PHASE_UNITS);
      times[phase] = Number(process.hrtime.bigint() - start) / 1e6;
      profilers[phase]?.stop();
    }
    blocks.push(times);
  }
  reportResult({ blocks, checksum: state.checksum });
}

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), { usage: USAGE, defaultRounds: 5, quickRounds: 2 });
  console.log(formatEnvironment(environment()));
  console.log(`sampler-overhead: ${options.rounds} processes x ${BLOCKS} blocks x ${PHASES.length} phases of ${PHASE_UNITS} units, seed ${options.seed}`);
  const blocks = [];
  for (let round = 0; round < options.rounds; round++) {
    const result = await runChild(__filename, ['--trial', String(options.seed + round)]);
    blocks.push(...result.blocks);
    console.log(`  process ${round + 1}/${options.rounds}: median phase ms ${PHASES.map((p) => `${p} ${median(result.blocks.map((b) => b[p])).toFixed(1)}`).join(', ')}`);
  }
  const total = (sample, phase) => sample.reduce((sum, b) => sum + b[phase], 0);
  const rows = PHASES.map((phase) => {
    // Speed relative to baseline: above 1 is faster.
    const speedOf = (sample) => total(sample, 'baseline') / total(sample, phase);
    const ci = bootstrapPairedCI(blocks, speedOf, { seed: options.seed });
    const ms = summarize(blocks.map((b) => b[phase]));
    return { phase, speed: speedOf(blocks), ci, ms };
  });
  console.log(`\nspeed relative to baseline: total baseline time / total time, over ${blocks.length} blocks (1 = as fast)`);
  console.log(formatTable(
    [{ title: 'phase', align: 'left' }, { title: 'phase ms median', align: 'right' }, { title: 'min-max', align: 'right' },
      { title: 'speed vs baseline', align: 'right' }, { title: '95% CI', align: 'right' }],
    rows.map((r) => [r.phase, r.ms.median.toFixed(1), `${r.ms.min.toFixed(1)}-${r.ms.max.toFixed(1)}`, fmtRatio(r.speed), `${fmtRatio(r.ci.low)}..${fmtRatio(r.ci.high)}`]),
  ));
  if (options.json) writeJson(options.json, { environment: environment(), seed: options.seed, rows, blocks });
}

if (process.argv[2] === '--trial') trial(Number(process.argv[3]));
else main().catch((error) => {
  console.error(error.stack ?? error);
  process.exit(1);
});
