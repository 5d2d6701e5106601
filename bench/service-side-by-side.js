// Measures what a profiler costs an HTTP service in CPU time per request: every configuration's server at once, each under the same fixed load.
'use strict';
const fs = require('node:fs');
const { parsePositiveInt, writeJson } = require('./lib/cli');
const { beginRun, endRun } = require('./lib/env');
const { summarize, median, mulberry32, shuffled, bootstrapPairedCI } = require('./lib/stats');
const { formatTable, fmt, fmtRatio } = require('./lib/table');
const { CONNECTIONS } = require('./fixtures/service-client');
const { parseServiceArgs, describeNodeFlags, resolveSpecs, startServer, startClient, summarizeEvidence, formatConfigNote } = require('./service-load');

const RATES = { json: 400, buffers: 300 };
const DEFAULT_SECONDS = 15;
const QUICK_SECONDS = 10;
const WARMUP_SECONDS = 6;
const QUICK_WARMUP_SECONDS = 3;
const DEFAULT_CONFIGS = ['baseline', 'baseline-2', 'allocscope'];
const TARGET_RATIO = 0.98;
// A server answered fewer than this share of the rate x seconds asked: it could not keep up, its CPU per request is not comparable.
// (Counted against the nominal seconds: autocannon's run lasts a few tens of ms longer, which would lower requests/s.)
const RATE_KEPT = 0.98;
// Per round beyond the load itself: the servers' start (building the live objects), their exit, the profilers' exit work.
const ROUND_OVERHEAD_SECONDS = 4;
// Beyond the load's own length, how long to wait for the load generator's results.
const LOAD_SLACK_MS = 30_000;

const USAGE = `Usage: node bench/service-side-by-side.js [--rounds N] [--quick] [--seconds S] [--warmup S] [--rate R]
                                          [--workloads LIST] [--only LIST] [--skip LIST] [--live-mib N]
                                          [--period S] [--allocscope-env K=V,...] [--variant NAME:K=V,...]
                                          [--node-flags=FLAGS]
                                          [--seed S] [--json FILE]

What each profiler costs an HTTP service in CPU time per request, measured so that a shared
machine's noise cancels. bench/service-load.js runs one configuration after another at saturation:
on a VM whose neighbours' bursts change throughput by 15-30% from one trial to the next, even its
A/A control varies by +-15%, and a 2% cost cannot be resolved. Here every round starts the servers
of ALL configurations at the same time (bench/fixtures/service-server.js, fresh processes each
round, started in a shuffled order) and loads each at the same FIXED rate, all at once, from one
load generator process of its own (bench/fixtures/service-client.js --rate: autocannon, ${CONNECTIONS}
connections per server, no pipelining). A neighbour's burst then hits every configuration at the
same moment; and at a fixed rate every server serves the same requests in the same time, so the
figure compared, each server's CPU time per request, does not depend on how fast the others are.
In trials on such a VM, the per-round A/A ratios of CPU per request stayed within about +-3%.

Each round: start the servers and wait until all listen; --warmup seconds of load at the rate
(default ${WARMUP_SECONDS}; --quick: ${QUICK_WARMUP_SECONDS}); 'measure' to every server; --seconds of load (default ${DEFAULT_SECONDS};
--quick: ${QUICK_SECONDS}); 'report' from every server; the end of their stdin, and their exit. Per server:
  CPU us/req    all the process's threads over the window (process.cpuUsage in the server) per
                request served, and what the kernel did for it (system CPU, minor page faults,
                context switches: process.resourceUsage); and per thread, from
                /proc/<pid>/task/*/schedstat (ns) before and after the load: the main thread, the
                thread named 'allocscope' (the addon's background thread) and all others (V8's GC
                and compiler threads, libuv's pool)
  latency       p50/p99 of the responses, from the load generator (to the microsecond). autocannon
                paces a rate per second: each connection sends its share as fast as it is answered
                from the start of every second, then waits, so this is the latency of those bursts
  loop max      the server's longest event-loop delay in the window; RSS at its end
  GCs           the server's major and minor GCs in the window, and their summed pause time
                (perf_hooks 'gc' entries): a profiler that makes V8 collect more shows here
Any error, timeout or non-2xx response fails the run. A server that served less than ${RATE_KEPT} of the
rate could not keep up (the machine could not sustain the rates): the round says so, and so does
the summary, since its CPU per request is no longer taken at the same load.

Reports per workload: the median CPU us/req of each configuration (total, main, allocscope
thread, other threads); the ratio to baseline as the median of the per-round paired ratios with
a 95% bootstrap CI (4,000 resamples of the rounds) and their min-max; baseline-2 / baseline (the
A/A control) as the noise floor; for allocscope, the capacity kept = baseline's CPU per request /
allocscope's, what a saturated single-threaded server would keep of its requests/s, against the
target of ${TARGET_RATIO} (reported, not asserted); the p99 latency at the rate and its paired ratio; and
the evidence that allocscope collected inside each measured window (as service-load checks it:
two collections or more, JS heap and native profiles with samples; the run fails otherwise).

Configurations (service-load.js --help describes each): baseline, baseline-2 and allocscope by
default; --only picks others too (datadog, heap-prof, jemalloc, jemalloc-prof, heaptrack), with
baseline always run. More servers share the same 2 CPUs: lower --rate if any falls short.
Linux only (/proc). Duration: rounds x workloads x (warm-up + seconds + ~${ROUND_OVERHEAD_SECONDS} s); the
defaults, 5 rounds x 2 workloads, take about 4 minutes.

  --rounds N         rounds (default 5; --quick: 1)
  --quick            1 round, ${QUICK_WARMUP_SECONDS} s warm-up and ${QUICK_SECONDS} s windows (a smoke run)
  --seconds S        measured seconds per round (default ${DEFAULT_SECONDS}; --quick: ${QUICK_SECONDS})
  --warmup S         seconds of load before the measured window (default ${WARMUP_SECONDS}; --quick: ${QUICK_WARMUP_SECONDS}); above
                     --period, it leaves a fresh process's first collection (which symbolizes every
                     stack seen for the first time) out of the window; --warmup 130 --period 60
                     leaves the first two out, as in a service that has run for a few minutes (with
                     --node-flags=--no-memory-reducer: V8's memory reducer fires ~100 s in)
  --rate R           requests/s per server, for every workload (default: ${Object.entries(RATES).map(([w, r]) => `${r} for ${w}`).join(', ')});
                     at these, each server takes at most about a fifth of a CPU here, which leaves
                     room for the load generator and a neighbour's burst without a server falling short
  --period S         seconds between collections of allocscope and datadog (default: the smaller
                     of 5 and half of --seconds; --seconds must hold two)
  --allocscope-env K=V,...  more settings for allocscope, e.g. ALLOCSCOPE_NATIVE_INTERVAL=2m
  --variant NAME:K=V,...  one more allocscope server in every round, allocscope:NAME, with these
                     settings on top of --allocscope-env's (repeatable): what each part costs, e.g.
                     --variant nonative:ALLOCSCOPE_NATIVE=0 --variant 2m:ALLOCSCOPE_NATIVE_INTERVAL=2m; with
                     ALLOCSCOPE_BENCH_ROOT=DIR, the allocscope built in DIR (e.g. the previous commit)
  --node-flags=FLAGS  Node/V8 flags given to every server alike, baseline included, separated by
                     spaces, after "=" (they start with --), e.g. --node-flags=--no-memory-reducer
                     (docs/performance.md: V8's memory reducer starts runs of major GCs that hit
                     servers at random, allocscope or not)
  --live-mib N       every server first builds N MiB of long-lived objects (default 64; see
                     service-load.js --help)
  --workloads LIST   json,buffers (default both; service-load.js --help describes them)
  --only LIST        run these configurations (and baseline)
  --skip LIST        configurations to leave out, comma-separated
  --jemalloc PATH    libjemalloc.so.2 to preload (jemalloc, jemalloc-prof)
  --heaptrack PATH   heaptrack launcher (default: from PATH)
  --seed S           seed of the shuffles (default: time-based; printed)
  --json FILE        also write the results, every server of every round, as JSON
  -h, --help         this help`;

// ---------------------------------------------------------------------------------------------
// Per-thread CPU time from /proc.

/** nodePid is the server's Node process: the process spawned, or a wrapper's (heaptrack's) child in its process group. */
function nodePid(group) {
  const node = fs.realpathSync(process.execPath);
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The fields after the command's closing parenthesis: state, ppid, pgrp, ...
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2] === String(group) && fs.readlinkSync(`/proc/${pid}/exe`) === node) return pid;
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no ${node} process in the process group of ${group}`);
}

/** threadCpu maps each thread of the process to its name and CPU time in ns (schedstat: exact, not 10 ms ticks). */
function threadCpu(pid) {
  const threads = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      threads.set(tid, { name: fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), ns });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/** threadSplit is the CPU time per request (us) of the main thread, the allocscope thread and the others between two readings. */
function threadSplit(pid, before, after, requests) {
  const split = { main: 0, allocscope: 0, other: 0 };
  // A thread that ended inside the window is missing from `after`: its time counts nowhere (V8's and libuv's threads live as long as the process).
  for (const [tid, { name, ns }] of after) {
    const part = tid === pid ? 'main' : name === 'allocscope' ? 'allocscope' : 'other';
    split[part] += (ns - (before.get(tid)?.ns ?? 0)) / 1000 / Math.max(1, requests);
  }
  return split;
}

// ---------------------------------------------------------------------------------------------
// Rounds and their summary.

/** runRound runs every configuration's server at once at `rate` requests/s each and returns each one's figures, by configuration. */
async function runRound(workload, rate, names, specs, options, rng) {
  const trials = shuffled(names, rng).map((config) => ({ config, how: specs[config].spawn() }));
  let client;
  try {
    for (const t of trials) t.server = startServer(`${workload} server (${t.config})`, workload, t.how, options);
    const ports = await Promise.all(trials.map(async (t) => (await t.server.next('listening')).port));
    for (const t of trials) t.pid = nodePid(t.server.pid);
    client = startClient(workload, ports, { ...options, rate });
    await client.next('warm', options.warmupSeconds * 1000 + LOAD_SLACK_MS);
    for (const t of trials) t.server.send('measure');
    await Promise.all(trials.map((t) => t.server.next('measuring')));
    const window = { startMs: Date.now() };
    for (const t of trials) t.before = threadCpu(t.pid);
    client.send('go');
    const { servers: loads } = await client.next('load', options.seconds * 1000 + LOAD_SLACK_MS);
    // The servers are idle from here on: the thread readings and the servers' own report cover the same load.
    for (const t of trials) t.after = threadCpu(t.pid);
    for (const t of trials) t.server.send('report');
    const reports = await Promise.all(trials.map((t) => t.server.next('report')));
    window.endMs = Date.now();
    await client.end();
    await Promise.all(trials.map((t) => t.server.end()));
    return Object.fromEntries(trials.map((t, i) => {
      const { event: _event, gaps: _gaps, ...report } = reports[i];
      const threads = threadSplit(t.pid, t.before, t.after, report.served);
      // Profilers that write at exit (heap-prof, jemalloc-prof) are checked after it, as service-load does.
      return [t.config, { order: i, ...loads[i], ...report, threadsUsPerRequest: threads, short: loads[i].requests < RATE_KEPT * rate * options.seconds, evidence: t.how.check?.(window) }];
    }));
  } finally {
    client?.kill();
    for (const t of trials) {
      t.server?.kill();
      t.how.cleanup?.();
    }
  }
}

/** paired summarizes per-round ratios: their median with a bootstrap CI over rounds, min and max. */
function paired(ratios, seed) {
  return { ...summarize(ratios), ci: bootstrapPairedCI(ratios, median, { seed }) };
}

function summarizeWorkload(workload, rate, names, specs, rounds, seed) {
  const rows = names.map((config) => {
    const trials = rounds.map((r) => r[config]);
    const of = (get) => median(trials.map(get));
    const toBase = (get) => paired(rounds.map((r) => get(r[config]) / get(r.baseline)), seed);
    return {
      config,
      describe: specs[config].describe,
      requestsPerSec: of((t) => t.requestsPerSec),
      cpuUsPerRequest: of((t) => t.cpuUsPerRequest),
      threadsUsPerRequest: Object.fromEntries(['main', 'allocscope', 'other'].map((part) => [part, of((t) => t.threadsUsPerRequest[part])])),
      cpuRatio: toBase((t) => t.cpuUsPerRequest),
      capacityKept: toBase((t) => 1 / t.cpuUsPerRequest),
      p50Ms: of((t) => t.p50Ms),
      p99Ms: of((t) => t.p99Ms),
      p99Ratio: toBase((t) => t.p99Ms),
      delayMaxMs: of((t) => t.delayMaxMs),
      rssMiB: of((t) => t.rssBytes / 2 ** 20),
      majorGcs: of((t) => t.gc.major),
      minorGcs: of((t) => t.gc.minor),
      gcPauseMs: of((t) => t.gc.pauseMs),
      kernel: Object.fromEntries(Object.keys(trials[0].kernel).map((field) => [field, of((t) => t.kernel[field])])),
      evidence: summarizeEvidence(trials.map((t) => t.evidence)),
    };
  });
  const shortfalls = rounds.flatMap((r, i) => names.filter((c) => r[c].short).map((c) => ({ round: i + 1, config: c, requestsPerSec: r[c].requestsPerSec })));
  return { workload, rate, rounds: rounds.length, rows, shortfalls, trials: rounds };
}

const formatTrial = (config, t) => `${config} ${fmt(t.cpuUsPerRequest, 1)} us/req (main ${fmt(t.threadsUsPerRequest.main, 1)}, allocscope ${fmt(t.threadsUsPerRequest.allocscope, 1)}, other ${fmt(t.threadsUsPerRequest.other, 1)}) ${fmt(t.requestsPerSec)} req/s${t.short ? ' SHORT' : ''} p99 ${fmt(t.p99Ms, 2)} ms, GCs ${t.gc.major} major/${t.gc.minor} minor`;

async function runBenchmark(options, log = console.log) {
  const { specs, names } = resolveSpecs(options, log);
  const rateOf = (workload) => options.rate ?? RATES[workload];
  const roundSeconds = options.warmupSeconds + options.seconds + ROUND_OVERHEAD_SECONDS;
  log(`service-side-by-side: ${options.workloads.map((w) => `${w} at ${rateOf(w)} req/s`).join(', ')} per server x ${options.rounds} rounds; ${names.length} servers at once (${names.join(', ')}), ${CONNECTIONS} connections each, ${options.warmupSeconds} s warm-up + ${options.seconds} s measured, --live-mib ${options.liveMib}${describeNodeFlags(options.nodeFlags)}, collections every ${options.period} s, shuffle seed ${options.seed}; about ${fmt((options.rounds * options.workloads.length * roundSeconds) / 60, 1)} min`);
  const rng = mulberry32(options.seed);
  const workloads = [];
  for (const workload of options.workloads) {
    const rounds = [];
    for (let round = 1; round <= options.rounds; round++) {
      const row = await runRound(workload, rateOf(workload), names, specs, options, rng);
      rounds.push(row);
      const order = Object.keys(row).sort((a, b) => row[a].order - row[b].order);
      log(`  ${workload} round ${round}/${options.rounds}: ${order.map((c) => formatTrial(c, row[c])).join('; ')}`);
    }
    workloads.push(summarizeWorkload(workload, rateOf(workload), names, specs, rounds, options.seed));
  }
  return { benchmark: 'service-side-by-side', connections: CONNECTIONS, seconds: options.seconds, warmupSeconds: options.warmupSeconds, periodSeconds: options.period, liveMib: options.liveMib, nodeFlags: options.nodeFlags, workloads };
}

function formatWorkload(summary) {
  const withCI = (p) => `${fmtRatio(p.median)} [${fmtRatio(p.ci.low)}..${fmtRatio(p.ci.high)}]`;
  const range = (p) => `${fmtRatio(p.min)}..${fmtRatio(p.max)}`;
  const by = Object.fromEntries(summary.rows.map((r) => [r.config, r]));
  const head = `service-side-by-side, ${summary.workload}: ${summary.rounds} rounds, every server at ${fmt(summary.rate)} req/s at the same time`;
  const lines = [
    `${head}; CPU time per request (medians over rounds; lower is better)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'CPU us/req', align: 'right' }, { title: 'main', align: 'right' }, { title: 'allocscope thread', align: 'right' },
        { title: 'other threads', align: 'right' }, { title: 'paired ratio [95% CI]', align: 'right' }, { title: 'paired min..max', align: 'right' }],
      summary.rows.map((r) => [r.config, fmt(r.cpuUsPerRequest, 1), fmt(r.threadsUsPerRequest.main, 1), fmt(r.threadsUsPerRequest.allocscope, 1), fmt(r.threadsUsPerRequest.other, 1),
        r.config === 'baseline' ? '1.000' : withCI(r.cpuRatio), r.config === 'baseline' ? '' : range(r.cpuRatio)]),
    ),
    '',
    `${head}; latency, event-loop delay, memory, GC (medians over rounds)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'served req/s', align: 'right' }, { title: 'p50 ms', align: 'right' }, { title: 'p99 ms', align: 'right' },
        { title: 'p99 paired ratio [95% CI]', align: 'right' }, { title: 'loop max ms', align: 'right' }, { title: 'RSS MiB', align: 'right' },
        { title: 'GCs major/minor', align: 'right' }, { title: 'GC pause ms', align: 'right' }],
      summary.rows.map((r) => [r.config, fmt(r.requestsPerSec), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), r.config === 'baseline' ? '1.000' : withCI(r.p99Ratio), fmt(r.delayMaxMs, 1), fmt(r.rssMiB, 0),
        `${fmt(r.majorGcs)}/${fmt(r.minorGcs)}`, fmt(r.gcPauseMs)]),
    ),
    '',
    `${head}; what the kernel did for each server, per request (medians over rounds)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'system CPU us', align: 'right' }, { title: 'minor page faults', align: 'right' },
        { title: 'voluntary switches', align: 'right' }, { title: 'involuntary switches', align: 'right' }],
      summary.rows.map((r) => [r.config, fmt(r.kernel.systemUsPerRequest, 1), fmt(r.kernel.minorFaultsPerRequest, 2),
        fmt(r.kernel.voluntarySwitchesPerRequest, 3), fmt(r.kernel.involuntarySwitchesPerRequest, 3)]),
    ),
    '',
    ...summary.rows.map((r) => formatConfigNote(r.config, r.describe, r.evidence)),
    '',
  ];
  if (by['baseline-2']) lines.push(`noise floor (A/A): baseline-2 / baseline CPU per request ${withCI(by['baseline-2'].cpuRatio)} (rounds ${range(by['baseline-2'].cpuRatio)}), p99 ${withCI(by['baseline-2'].p99Ratio)}`);
  for (const r of summary.rows.filter((row) => !['baseline', 'baseline-2'].includes(row.config))) {
    lines.push(`${r.config} / baseline: CPU per request ${withCI(r.cpuRatio)} (rounds ${range(r.cpuRatio)}), p99 latency at ${fmt(summary.rate)} req/s ${withCI(r.p99Ratio)}`);
  }
  for (const a of summary.rows.filter((row) => row.config === 'allocscope' || row.config.startsWith('allocscope:'))) {
    lines.push(`${a.config}: capacity kept (baseline's CPU per request / ${a.config}'s) ${withCI(a.capacityKept)} (rounds ${range(a.capacityKept)}); target >= ${TARGET_RATIO}, reported, not asserted`);
    lines.push(`${a.config}'s own thread: ${fmt(a.threadsUsPerRequest.allocscope, 2)} us/req of ${fmt(a.cpuUsPerRequest, 1)}; main thread ${fmt(a.threadsUsPerRequest.main - by.baseline.threadsUsPerRequest.main, 1)} us/req over baseline's (medians)`);
  }
  for (const s of summary.shortfalls) {
    lines.push(`WARNING: round ${s.round}, ${s.config} served ${fmt(s.requestsPerSec)} req/s of the ${fmt(summary.rate)} asked (under ${RATE_KEPT} of it): the machine could not sustain the rate; that round's ratios compare unequal loads (lower --rate)`);
  }
  return lines.join('\n');
}

async function main() {
  const { json, options } = parseServiceArgs(process.argv.slice(2), {
    usage: USAGE,
    defaults: { seconds: [DEFAULT_SECONDS, QUICK_SECONDS], warmup: [WARMUP_SECONDS, QUICK_WARMUP_SECONDS], liveMib: 64, configs: DEFAULT_CONFIGS },
    extra: { rate: { type: 'string' } },
    more: (values) => ({ rate: parsePositiveInt('rate', values.rate, undefined) }),
  });
  const run = beginRun();
  const summary = await runBenchmark(options);
  for (const workload of summary.workloads) console.log(`\n${formatWorkload(workload)}`);
  endRun(run);
  if (json) writeJson(json, { environment: run.env, seed: options.seed, summary });
}

module.exports = { runBenchmark, formatWorkload };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
