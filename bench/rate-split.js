// Splits a profiler's cost into a part per request and a part per second, from two side-by-side runs at different rates, and projects it to a saturated server.
'use strict';
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { formatTable, fmt, fmtRatio } = require('./lib/table');

const USAGE = `Usage: node bench/rate-split.js LOW.json HIGH.json

Reads two --json results of bench/service-side-by-side.js that loaded the same workload at two
fixed rates (e.g. --rate 300 and --rate 900) and splits what each configuration costs over
baseline, in CPU time, into two parts:
  per request   work done for each request served (hooks, V8's heap sampler, samples taken in
                proportion to the bytes allocated)
  per second    work done per unit of time whatever the load: collections every period, native
                samples held to a budget of N a second, timers
from extra(R) = perRequest + perSecond / R, where extra(R) is the configuration's CPU per request
over baseline's at rate R (its median paired ratio times baseline's CPU per request).

A fixed rate below saturation charges per-second costs to few requests: at a fifth of a CPU,
they weigh five times what they weigh in a server that is busy all the time. The capacity a
server keeps, the requests per second it can still serve, is set where its main thread is busy
all the time; the projection puts the configuration there:
  saturated at  baseline's saturated rate, 1 s / baseline's main-thread time per request (from
                the higher-rate run, the nearer to saturation)
  capacity kept (projected)  baseline's CPU per request / (that + perRequest + perSecond / that rate),
                counting every thread's time as if all ran on the main thread's core (the
                conservative reading); and the same with the main thread's time alone
It is a model with two points: it assumes each part stays the same between the rates and up to
saturation. Check it against the measured ratio at each rate.`;

function parse(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true });
  } catch (error) {
    return { error: error.message };
  }
  if (parsed.values.help) return { help: true };
  if (parsed.positionals.length !== 2) return { error: 'give two result files, the lower rate first' };
  return { files: parsed.positionals };
}

function readRun(file) {
  let run;
  try {
    run = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${error.message}; give the file written by service-side-by-side.js --json`);
  }
  if (run?.summary?.benchmark !== 'service-side-by-side') throw new Error(`${file} is not a service-side-by-side.js result`);
  return run;
}

/** extraOf: a configuration's CPU per request over baseline's at one rate, total and main thread (µs). */
function extraOf(row, base) {
  return {
    total: (row.cpuRatio.median - 1) * base.cpuUsPerRequest,
    main: row.threadsUsPerRequest.main - base.threadsUsPerRequest.main,
  };
}

/** split solves extra(R) = perRequest + perSecond / R through two rates. */
function split(low, high) {
  const perSecond = (low.extra - high.extra) / (1 / low.rate - 1 / high.rate);
  return { perRequest: high.extra - perSecond / high.rate, perSecond };
}

function splitWorkload(lowWorkload, highWorkload) {
  const baseOf = (w) => w.rows.find((r) => r.config === 'baseline');
  const [lowBase, highBase] = [baseOf(lowWorkload), baseOf(highWorkload)];
  const saturatedRate = 1e6 / highBase.threadsUsPerRequest.main;
  const rows = [];
  for (const high of highWorkload.rows) {
    const low = lowWorkload.rows.find((r) => r.config === high.config);
    if (high.config === 'baseline' || low === undefined) continue;
    const [lowExtra, highExtra] = [extraOf(low, lowBase), extraOf(high, highBase)];
    const parts = {};
    for (const kind of ['total', 'main']) {
      parts[kind] = split({ rate: lowWorkload.rate, extra: lowExtra[kind] }, { rate: highWorkload.rate, extra: highExtra[kind] });
    }
    const projected = (kind, baseUs) => baseUs / (baseUs + parts[kind].perRequest + parts[kind].perSecond / saturatedRate);
    rows.push({
      config: high.config,
      measured: [low.capacityKept.median, high.capacityKept.median],
      perRequestUs: parts.total.perRequest,
      perSecondMs: parts.total.perSecond / 1000,
      mainPerRequestUs: parts.main.perRequest,
      mainPerSecondMs: parts.main.perSecond / 1000,
      projected: projected('total', highBase.cpuUsPerRequest),
      projectedMain: projected('main', highBase.threadsUsPerRequest.main),
    });
  }
  return { workload: highWorkload.workload, rates: [lowWorkload.rate, highWorkload.rate], saturatedRate, rows };
}

function main() {
  const args = parse(process.argv.slice(2));
  if (args.help) return process.stdout.write(`${USAGE}\n`);
  if (args.error) {
    process.stderr.write(`rate-split: ${args.error}\n\n${USAGE}\n`);
    process.exit(2);
  }
  let runs;
  try {
    runs = args.files.map(readRun);
  } catch (error) {
    process.stderr.write(`rate-split: ${error.message}\n`);
    process.exit(2);
  }
  const [low, high] = runs.map((r) => r.summary.workloads);
  const pairs = high.map((h) => [low.find((w) => w.workload === h.workload && w.rate < h.rate), h]).filter(([l]) => l !== undefined);
  if (pairs.length === 0) {
    process.stderr.write('rate-split: no workload of the second file was measured at a lower rate in the first; give the lower-rate run first\n');
    process.exit(2);
  }
  for (const [lowWorkload, highWorkload] of pairs) {
    const { workload, rates, saturatedRate, rows } = splitWorkload(lowWorkload, highWorkload);
    console.log(`\n${workload}: measured at ${rates.join(' and ')} req/s per server; baseline saturated at ~${fmt(saturatedRate)} req/s (its main thread's time per request at ${rates[1]})`);
    const columns = ['config', `kept at ${rates[0]}`, `kept at ${rates[1]}`, 'per request us', 'per second ms', 'main: per request us', 'main: per second ms', 'kept saturated (all threads)', 'kept saturated (main)']
      .map((title, i) => ({ title, align: i === 0 ? 'left' : 'right' }));
    console.log(formatTable(columns, rows.map((r) => [
      r.config, fmtRatio(r.measured[0]), fmtRatio(r.measured[1]), fmt(r.perRequestUs, 1), fmt(r.perSecondMs, 2),
      fmt(r.mainPerRequestUs, 1), fmt(r.mainPerSecondMs, 2), fmtRatio(r.projected), fmtRatio(r.projectedMain),
    ])));
  }
}

main();
