// Measures what `heap.profile({ collectGarbage: true })` costs over `heap.profile()` on heaps of growing size.
'use strict';
const { runChild, reportResult } = require('./lib/child');
const { summarize } = require('./lib/stats');
const { formatTable, fmt } = require('./lib/table');
const { environment, formatEnvironment } = require('./lib/env');
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { loadAllocscope } = require('./lib/profilers');

const USAGE = `Usage: node bench/gc-cost.js [--rounds N] [--quick] [--sizes 50,200,800] [--json FILE]

For each heap size (MiB of retained small objects), a fresh process starts allocscope's heap
profiler, builds the heap, then times heap.profile() and heap.profile({ collectGarbage: true })
alternately, N rounds each (default 7; --quick: 3). The collection is what the profile written at
exit pays.`;

/** Child: build a heap of `mib` MiB, then time both kinds of snapshot alternately. */
function trial(mib, rounds) {
  const { heap } = loadAllocscope();
  heap.start();
  const retained = (globalThis.retained = []);
  for (let i = 0; i < mib * 1024; i++) retained.push({ elements: new Array(100).fill(i), key: `k${i}` }); // ~1 KiB each
  const time = (collectGarbage) => {
    const start = process.hrtime.bigint();
    heap.profile({ collectGarbage });
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const plain = [];
  const collected = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(time(false));
    collected.push(time(true));
  }
  reportResult({ heapUsedMiB: process.memoryUsage().heapUsed / 1048576, plain, collected });
}

async function main(argv) {
  const options = parseBenchArgs(argv, { usage: USAGE, defaultRounds: 7, quickRounds: 3, extra: { sizes: { type: 'string', default: '50,200,800' } } });
  const { rounds } = options;
  const sizes = options.sizes.split(',').map(Number);
  console.log(formatEnvironment(environment()));
  const results = [];
  const rows = [];
  for (const mib of sizes) {
    const result = await runChild(__filename, ['--trial', String(mib), String(rounds)], { execArgv: ['--max-old-space-size=4096'] });
    results.push({ mib, ...result });
    const plain = summarize(result.plain);
    const collected = summarize(result.collected);
    rows.push([fmt(result.heapUsedMiB), `${plain.median.toFixed(2)} (${plain.min.toFixed(2)}-${plain.max.toFixed(2)})`,
      `${collected.median.toFixed(1)} (${collected.min.toFixed(1)}-${collected.max.toFixed(1)})`]);
  }
  console.log(`\ngc-cost: ${rounds} alternating rounds per heap size, milliseconds, median (min-max)`);
  console.log(formatTable([
    { title: 'heap used MiB', align: 'right' },
    { title: 'profile()', align: 'right' },
    { title: 'profile({ collectGarbage: true })', align: 'right' },
  ], rows));
  if (options.json) writeJson(options.json, { environment: environment(), rounds, results });
}

if (process.argv[2] === '--trial') trial(Number(process.argv[3]), Number(process.argv[4]));
else main(process.argv.slice(2)).catch((error) => {
  console.error(error.stack ?? error);
  process.exit(1);
});
