// Measures how long continuous profiling (register + ALLOCSCOPE_UPLOAD, a profile every period) blocks an app's event loop, per period.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, parseSkip, writeJson } = require('./lib/cli');
const { allocscopeRoot, beginRun, endRun } = require('./lib/env');
const { loadAllocscope } = require('./lib/profilers');
const { summarize, median, quantile, mulberry32, shuffled, bootstrapDiffCI } = require('./lib/stats');
const { formatTable, fmt, fmtBytes } = require('./lib/table');

const PERIOD_SECONDS = 1;
const WARMUP_SECONDS = 2;
const DEFAULT_SECONDS = 20;
const QUICK_SECONDS = 8;
const DEFAULT_RATE = 12_000;
const DEFAULT_HEAP_INTERVAL = '8k';
const DEFAULT_NATIVE_INTERVAL = '32k';

const ROUTES = 2_500;
const MIDDLEWARES = 4;
const KEEP_ONE_IN = 3;
const MAX_LIVE = 40_000;
const BATCH = 64;

const USAGE = `Usage: node bench/continuous-block.js [--rounds N] [--quick] [--seconds S] [--rate R]
                                      [--heap-interval SIZE] [--native-interval SIZE]
                                      [--skip LIST] [--seed S] [--json FILE]

How long continuous profiling blocks the event loop of a running app, once per period. Each
trial is a fresh process running a server-like workload for ${WARMUP_SECONDS} s of warm-up and then --seconds
(default ${DEFAULT_SECONDS}; --quick: ${QUICK_SECONDS}) measured: --rate requests/s (default ${DEFAULT_RATE.toLocaleString('en-US')}) are handled in
batches from timers and setImmediate, each by one of ${ROUTES.toLocaleString('en-US')} generated route functions (own source
files) reached through one of ${MIDDLEWARES} middlewares; a request allocates a record object, a
JSON string and a Buffer (256 B - 16 KiB, per route), and one in ${KEEP_ONE_IN} is kept in a Map of at most
${MAX_LIVE.toLocaleString('en-US')} entries (oldest evicted), so the profiles have thousands of stacks.

The child measures the event loop two ways: perf_hooks.monitorEventLoopDelay({ resolution: 1 })
(p99 and max over the measured seconds) and its own detector, a
setInterval(1 ms) that records the longest gap between two of its ticks in each ${PERIOD_SECONDS} s period (the
recorder's period): an idle loop shows ~1 ms, a collection that blocks for 30 ms shows ~31 ms.
Configurations, in a shuffled order in every round:

  baseline          no profiler
  baseline-2        the same again: the A/A control
  allocscope-exit   node -r dist/register.js, ALLOCSCOPE_OUT=<temp dir>, no period: the
                    samplers alone, profiles only at exit (what the periodic ones add is the rest)
  allocscope-files  node -r dist/register.js, ALLOCSCOPE_UPLOAD=<temp dir>, ALLOCSCOPE_PERIOD=${PERIOD_SECONDS}
  allocscope-http   the same uploading to http://127.0.0.1:<port>/profiles, a server in this
                    process that reads each body and answers 200 (plain POST; spool in a temp dir)

The profilers' intervals are lowered (ALLOCSCOPE_HEAP_INTERVAL=${DEFAULT_HEAP_INTERVAL}, ALLOCSCOPE_NATIVE_INTERVAL=${DEFAULT_NATIVE_INTERVAL} by
default) so that a run of seconds reaches the profile sizes a service reaches at the defaults
(512 KiB) over hours: thousands of native stacks and JS samples. The sizes are reported.

Reports per configuration: the per-period longest gap (median, p90, max over all periods of all
rounds) and the excess of its median over baseline's (95% bootstrap CI), the histogram's p99 and
max, requests handled per second, and for the profiled ones the periodic profiles' sizes (gzipped
bytes and samples, decoded from what was written or uploaded).

Then, unless skipped, where the block goes: one more process runs the same requests synchronously
with heap.start() and native.start() at the same intervals and, after each period's worth, times
the steps of the recorder's collection (heap.profile() without a full GC, its encode,
the native profile of the period as the recorder takes it, its encode), --seconds periods after ${WARMUP_SECONDS} of warm-up.

  --rounds N              rounds (default 5; --quick: 2)
  --quick                 fewer rounds, shorter trials (a smoke run)
  --seconds S             measured seconds per trial (default ${DEFAULT_SECONDS}; --quick: ${QUICK_SECONDS})
  --rate R                requests per second offered (default ${DEFAULT_RATE.toLocaleString('en-US')})
  --heap-interval SIZE    ALLOCSCOPE_HEAP_INTERVAL (default ${DEFAULT_HEAP_INTERVAL}; 'default': allocscope's)
  --native-interval SIZE  ALLOCSCOPE_NATIVE_INTERVAL (default ${DEFAULT_NATIVE_INTERVAL}; 'default': allocscope's)
  --skip LIST             configurations to leave out, comma-separated (also 'breakdown')
  --seed S                seed of the shuffles (default: time-based; printed)
  --json FILE             also write the results as JSON
  -h, --help              this help
  (internal: --trial CONFIG runs in a child process)`;

const CONFIG_NAMES = ['baseline', 'baseline-2', 'allocscope-exit', 'allocscope-files', 'allocscope-http'];

// ---------------------------------------------------------------------------------------------
// The workload (child).

function routeSize(k) {
  const rng = mulberry32(k + 1);
  return Math.round(Math.exp(Math.log(256) + (Math.log(16 * 1024) - Math.log(256)) * rng()));
}

/** makeRoutes generates the route handlers, each in its own "file", so stacks differ per route. */
function makeRoutes() {
  const routes = [];
  for (let k = 0; k < ROUTES; k++) {
    const source = `return function route${k}(req, keep) {
  const record = { id: req.id, route: ${k}, user: 'user-' + (req.id % 977), path: req.path, tags: [req.id & 7, ${k % 13}, req.id % 31],
    started: req.started, fields: new Array(${4 + (k % 8)}).fill(req.id), note: 'request ' + req.id + ' of route ${k}' };
  const body = Buffer.alloc(${routeSize(k)});
  body[0] = ${k & 0xff};
  const text = JSON.stringify(record);
  if (req.id % ${KEEP_ONE_IN} === 0) keep(req.id, record, body);
  return text.length + body.length;
};
//# sourceURL=/srv/app/routes/route${k}.js`;
    routes.push(new Function(source)());
  }
  return routes;
}

function viaAuth(route, req, keep) {
  req.user = req.id % 977;
  return route(req, keep);
}
function viaLogging(route, req, keep) {
  return route(req, keep) + 1;
}
function viaParser(route, req, keep) {
  req.query = { page: req.id & 15 };
  return route(req, keep);
}
function viaCache(route, req, keep) {
  const result = route(req, keep);
  req.cached = result & 1;
  return result;
}
const MIDDLEWARE = [viaAuth, viaLogging, viaParser, viaCache];

/**
 * startDetectors starts both event-loop measurements now, at `t0`, so that a block under way when
 * the measurement begins is still seen; periods count from `t0` and the warm-up ones are left out
 * when reading. The histogram is reset when the warm-up ends (at the first tick after it).
 */
function startDetectors(t0, measureFrom) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const gaps = [];
  let last = performance.now();
  let warm = false;
  const tick = setInterval(() => {
    const now = performance.now();
    // A gap belongs to the period it ends in: a collection blocks, then the tick after it sees the gap.
    const period = Math.floor((now - t0) / (PERIOD_SECONDS * 1000));
    gaps[period] = Math.max(gaps[period] ?? 0, now - last);
    last = now;
    if (!warm && now >= measureFrom) {
      warm = true;
      histogram.reset();
    }
  }, 1);
  histogram.enable();
  return {
    /** stop returns the longest gap of each period from `fromPeriod` on, and the histogram since the warm-up. */
    stop(fromPeriod, periods) {
      clearInterval(tick);
      histogram.disable();
      return {
        gaps: Array.from({ length: periods }, (_, i) => gaps[fromPeriod + i] ?? 0),
        p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6, meanMs: histogram.mean / 1e6,
      };
    },
  };
}

/** makeWorkload returns handle() (one request) and the state it keeps. */
function makeWorkload() {
  const routes = makeRoutes();
  const state = { live: new Map(), handled: 0, checksum: 0 };
  const keep = (id, record, body) => {
    state.live.set(id, { record, body });
    if (state.live.size > MAX_LIVE) state.live.delete(state.live.keys().next().value);
  };
  state.handle = () => {
    const id = state.handled++;
    const req = { id, path: `/api/v1/items/${id % 1000}`, started: Date.now() };
    state.checksum = (state.checksum + MIDDLEWARE[id % MIDDLEWARES](routes[(id * 7919) % ROUTES], req, keep)) % 2_147_483_647;
  };
  return state;
}

function runTrial(config, seconds, rate) {
  const work = makeWorkload();
  const { live, handle } = work;
  const start = performance.now();
  const measureFrom = start + WARMUP_SECONDS * 1000;
  const end = measureFrom + seconds * 1000;
  const detectors = startDetectors(start, measureFrom);
  let measured; // handled and time when the warm-up ended
  let done = false;
  // Requests arrive at a fixed rate; what is due is handled in batches of BATCH, one batch per
  // setImmediate, and when none is due the loop waits on a timer (idle time, as a server has).
  const pump = () => {
    if (done) return;
    const now = performance.now();
    const due = Math.floor(((now - start) * rate) / 1000);
    for (let n = 0; n < BATCH && work.handled < due; n++) handle();
    if (work.handled < due) setImmediate(pump);
    else setTimeout(pump, 1);
  };
  // Housekeeping timers, as a service has: a periodic summary and a slower "metrics" walk.
  const summary = setInterval(() => {
    work.checksum = (work.checksum + JSON.stringify({ handled: work.handled, live: live.size, at: Date.now() }).length) % 2_147_483_647;
  }, 10);
  const metrics = setInterval(() => {
    let bytes = 0;
    let n = 0;
    for (const entry of live.values()) {
      bytes += entry.body.length;
      if (++n === 2000) break;
    }
    work.checksum = (work.checksum + bytes) % 2_147_483_647;
  }, 100);
  setTimeout(() => {
    measured = { handled: work.handled, at: performance.now() };
  }, measureFrom - performance.now());
  setTimeout(() => {
    done = true;
    clearInterval(summary);
    clearInterval(metrics);
    const loop = detectors.stop(WARMUP_SECONDS / PERIOD_SECONDS, seconds / PERIOD_SECONDS);
    reportResult({
      config, seconds, rate,
      periodGapMs: loop.gaps,
      p99Ms: loop.p99Ms, maxMs: loop.maxMs, meanMs: loop.meanMs,
      requestsPerSec: (work.handled - measured.handled) / ((performance.now() - measured.at) / 1000),
      liveEntries: live.size,
      rssBytes: process.memoryUsage().rss,
      checksum: work.checksum,
    });
    // The loop now runs empty: with allocscope, its exit hook takes the last profiles and delivers them.
  }, end - performance.now());
  pump();
}

/** parseSize reads the interval flags ('8k', '32k', '1m', a number, or 'default': undefined). */
function parseSize(text) {
  if (text === 'default') return undefined;
  const match = /^(\d+)([kmKM]?)$/.exec(text);
  if (match === null) throw new Error(`an interval must be a size such as 8k or 32768, or 'default'; got '${text}'`);
  return Number(match[1]) * ({ '': 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase()]);
}

/**
 * runBreakdown times, apart from any event loop, what the recorder does each period (see
 * Recorder.collect): heap.profile() without a full GC and its encode, the native profile of the
 * period (the recorder's periodProfile; native.profile() for builds from before it) and its
 * encode; after a period's worth of requests each time, run synchronously. (Earlier builds made
 * alloc_* per period in a separate JS step, AllocDelta, which this leaves out.)
 */
function runBreakdown(periods, rate, heapInterval, nativeInterval) {
  const { heap, native, encode } = loadAllocscope();
  const { periodProfile = native.profile } = require(path.join(allocscopeRoot(), 'dist', 'native-heap', 'native-profiler'));
  heap.start(heapInterval === undefined ? {} : { intervalBytes: heapInterval });
  native.start(nativeInterval === undefined ? {} : { intervalBytes: nativeInterval });
  const work = makeWorkload();
  const steps = Object.fromEntries(BREAKDOWN_STEPS.map((step) => [step, []]));
  const sizes = [];
  for (let p = 0; p < WARMUP_SECONDS + periods; p++) {
    for (let i = 0; i < rate * PERIOD_SECONDS; i++) work.handle();
    const times = [performance.now()];
    const jsProfile = heap.profile({ collectGarbage: false });
    times.push(performance.now());
    encode(jsProfile);
    times.push(performance.now());
    const nativeProfile = periodProfile();
    times.push(performance.now());
    encode(nativeProfile);
    times.push(performance.now());
    if (p < WARMUP_SECONDS) continue;
    BREAKDOWN_STEPS.forEach((step, i) => steps[step].push(i === BREAKDOWN_STEPS.length - 1 ? times.at(-1) - times[0] : times[i + 1] - times[i]));
    sizes.push({ js: jsProfile.samples.length, native: nativeProfile.samples.length, nativeLocations: nativeProfile.locations.length });
  }
  native.stop();
  heap.stop();
  reportResult({ steps, sizes, checksum: work.checksum });
}

const BREAKDOWN_STEPS = ['heap.profile()', 'encode JS', 'native profile', 'encode native', 'total'];

// ---------------------------------------------------------------------------------------------
// The parent.

/** startUploadServer answers every request 200 after reading its body, and keeps the bodies by heap. */
async function startUploadServer() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ heap: req.headers['x-allocscope-heap'], sequence: Number(req.headers['x-allocscope-sequence']), bytes: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/profiles`,
    take: () => received.splice(0),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** profileSizes summarizes periodic profiles (the one taken at exit is left out) of one kind. */
function profileSizes(profiles, decode) {
  const periodic = profiles.slice(0, -1);
  if (periodic.length === 0) return undefined;
  const samples = periodic.map((p) => decode(p.bytes).samples.length);
  return { count: periodic.length, gzBytes: median(periodic.map((p) => p.bytes.length)), maxGzBytes: Math.max(...periodic.map((p) => p.bytes.length)), samples: median(samples), maxSamples: Math.max(...samples) };
}

/** readProfileDir reads the profiles a directory destination got, as { heap, sequence, bytes }, by sequence. */
function readProfileDir(dir) {
  return fs.readdirSync(dir).flatMap((name) => {
    const match = /-(\d{4,})\.(heap|native)\.pb\.gz$/.exec(name);
    return match ? [{ heap: match[2] === 'heap' ? 'js' : 'native', sequence: Number(match[1]), bytes: fs.readFileSync(path.join(dir, name)) }] : [];
  }).sort((a, b) => a.sequence - b.sequence);
}

function configSpec(name, options, server) {
  const register = ['-r', path.join(allocscopeRoot(), 'dist', 'register.js')];
  const intervals = {
    ...(options.heapInterval === 'default' ? {} : { ALLOCSCOPE_HEAP_INTERVAL: options.heapInterval }),
    ...(options.nativeInterval === 'default' ? {} : { ALLOCSCOPE_NATIVE_INTERVAL: options.nativeInterval }),
  };
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ALLOCSCOPE_') || key === 'ALLOCSCOPE_BENCH_ROOT'));
  const withTemp = (describe, env) => ({
    describe,
    spawn: () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-bench-continuous-'));
      return {
        execArgv: register,
        env: { ...clean, ...intervals, ...env(dir) },
        profiles: () => (name === 'allocscope-http' ? server.take() : readProfileDir(path.join(dir, 'profiles'))),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    },
  });
  switch (name) {
    case 'baseline':
      return { describe: 'no profiler', spawn: () => ({ env: clean }) };
    case 'baseline-2':
      return { describe: 'no profiler (identical to baseline: the A/A control)', spawn: () => ({ env: clean }) };
    case 'allocscope-exit':
      return withTemp('register, profiles only at exit (samplers alone)', (dir) => ({ ALLOCSCOPE_OUT: path.join(dir, 'profiles') }));
    case 'allocscope-files':
      return withTemp(`register, ALLOCSCOPE_UPLOAD=<dir>, period ${PERIOD_SECONDS} s`, (dir) => ({ ALLOCSCOPE_UPLOAD: path.join(dir, 'profiles'), ALLOCSCOPE_PERIOD: String(PERIOD_SECONDS) }));
    case 'allocscope-http':
      return withTemp(`register, ALLOCSCOPE_UPLOAD=${server.url} (local, answers 200), period ${PERIOD_SECONDS} s`, (dir) => ({
        ALLOCSCOPE_UPLOAD: server.url, ALLOCSCOPE_PERIOD: String(PERIOD_SECONDS), ALLOCSCOPE_SPOOL: path.join(dir, 'spool'),
      }));
    default:
      throw new Error(`unknown configuration ${name}`);
  }
}

async function runBenchmark(options, log = console.log) {
  const { decode } = loadAllocscope();
  const server = await startUploadServer();
  try {
    const names = CONFIG_NAMES.filter((n) => !options.skip.includes(n));
    if (!names.includes('baseline')) throw new Error('baseline cannot be skipped');
    const specs = Object.fromEntries(names.map((n) => [n, configSpec(n, options, server)]));
    const rng = mulberry32(options.seed);
    const results = Object.fromEntries(names.map((n) => [n, []]));
    log(`continuous-block: ${options.rounds} rounds x ${names.length} configurations, ${WARMUP_SECONDS} s warm-up + ${options.seconds} s measured per trial at ${fmt(options.rate)} requests/s, period ${PERIOD_SECONDS} s, heap interval ${options.heapInterval}, native interval ${options.nativeInterval}, shuffle seed ${options.seed}`);
    for (let round = 1; round <= options.rounds; round++) {
      const order = shuffled(names, rng);
      for (const config of order) {
        const how = specs[config].spawn();
        try {
          const result = await runChild(__filename, ['--trial', config, '--seconds', String(options.seconds), '--rate', String(options.rate)], how);
          if (how.profiles) {
            const profiles = how.profiles();
            result.profiles = { count: profiles.length, js: profileSizes(profiles.filter((p) => p.heap === 'js'), decode), native: profileSizes(profiles.filter((p) => p.heap === 'native'), decode) };
          }
          results[config].push(result);
        } finally {
          how.cleanup?.();
        }
      }
      log(`  round ${round}/${options.rounds}: ${order.map((c) => `${c} ${fmt(median(results[c].at(-1).periodGapMs), 1)}/${fmt(Math.max(...results[c].at(-1).periodGapMs), 1)}`).join(', ')} ms (per-period longest gap, median/max)`);
    }
    const base = results.baseline.flatMap((r) => r.periodGapMs);
    const rows = names.map((config) => {
      const gaps = results[config].flatMap((r) => r.periodGapMs);
      const withProfiles = results[config].filter((r) => r.profiles);
      const sizes = (kind, field) => median(withProfiles.map((r) => r.profiles[kind]?.[field]).filter((v) => v !== undefined));
      return {
        config,
        describe: specs[config].describe,
        periods: gaps.length,
        gap: { ...summarize(gaps), p90: quantile(gaps, 0.9) },
        excessOverBaseline: config === 'baseline' ? undefined : { median: median(gaps) - median(base), ci: bootstrapDiffCI(gaps, base, { seed: options.seed }) },
        p99Ms: median(results[config].map((r) => r.p99Ms)),
        maxMs: Math.max(...results[config].map((r) => r.maxMs)),
        requestsPerSec: median(results[config].map((r) => r.requestsPerSec)),
        rssMiB: median(results[config].map((r) => r.rssBytes / 2 ** 20)),
        profiles: withProfiles.some((r) => r.profiles.native || r.profiles.js)
          ? {
              perTrial: median(withProfiles.map((r) => r.profiles.count)),
              nativeSamples: sizes('native', 'samples'), nativeMaxSamples: sizes('native', 'maxSamples'), nativeGzBytes: sizes('native', 'gzBytes'), nativeMaxGzBytes: sizes('native', 'maxGzBytes'),
              jsSamples: sizes('js', 'samples'), jsMaxSamples: sizes('js', 'maxSamples'), jsGzBytes: sizes('js', 'gzBytes'), jsMaxGzBytes: sizes('js', 'maxGzBytes'),
            }
          : undefined,
      };
    });
    let breakdown;
    if (!options.skip.includes('breakdown')) {
      const args = ['--trial', 'breakdown', '--seconds', String(options.seconds), '--rate', String(options.rate), '--heap-interval', options.heapInterval, '--native-interval', options.nativeInterval];
      const result = await runChild(__filename, args, { env: configSpec('baseline', options, server).spawn().env });
      const last = result.sizes.at(-1);
      breakdown = { rows: BREAKDOWN_STEPS.map((step) => ({ step, ms: summarize(result.steps[step]) })), last };
    }
    return { benchmark: 'continuous-block', breakdown, rounds: options.rounds, seconds: options.seconds, rate: options.rate, periodSeconds: PERIOD_SECONDS, heapInterval: options.heapInterval, nativeInterval: options.nativeInterval, rows, trials: results };
  } finally {
    await server.close();
  }
}

function formatBenchmark(summary) {
  const ms = (v) => fmt(v, 1);
  const lines = [
    `continuous-block: longest event-loop gap per ${summary.periodSeconds} s period (1 ms interval detector), over ${summary.rounds} rounds x ${summary.seconds} periods; monitorEventLoopDelay p99/max over the measured seconds; lower is better`,
    formatTable(
      [
        { title: 'config', align: 'left' }, { title: 'periods', align: 'right' }, { title: 'gap median ms', align: 'right' },
        { title: 'p90', align: 'right' }, { title: 'max', align: 'right' }, { title: 'median - baseline [95% CI]', align: 'right' },
        { title: 'delay p99 ms', align: 'right' }, { title: 'delay max ms', align: 'right' },
        { title: 'req/s', align: 'right' }, { title: 'RSS MiB', align: 'right' },
      ],
      summary.rows.map((r) => [
        r.config, String(r.periods), ms(r.gap.median), ms(r.gap.p90), ms(r.gap.max),
        r.excessOverBaseline ? `${ms(r.excessOverBaseline.median)} [${ms(r.excessOverBaseline.ci.low)}..${ms(r.excessOverBaseline.ci.high)}]` : '',
        ms(r.p99Ms), ms(r.maxMs), fmt(r.requestsPerSec), fmt(r.rssMiB, 0),
      ]),
    ),
    '',
    'periodic profiles (the one at exit left out), medians over trials of each trial\'s median [and max]:',
    formatTable(
      [
        { title: 'config', align: 'left' }, { title: 'files/trial (both kinds, exit incl.)', align: 'right' }, { title: 'native samples', align: 'right' },
        { title: 'native gz', align: 'right' }, { title: 'JS samples', align: 'right' }, { title: 'JS gz', align: 'right' },
      ],
      summary.rows.filter((r) => r.profiles).map((r) => {
        const p = r.profiles;
        return [r.config, fmt(p.perTrial), `${fmt(p.nativeSamples)} [${fmt(p.nativeMaxSamples)}]`, `${fmtBytes(p.nativeGzBytes)} [${fmtBytes(p.nativeMaxGzBytes)}]`,
          `${fmt(p.jsSamples)} [${fmt(p.jsMaxSamples)}]`, `${fmtBytes(p.jsGzBytes)} [${fmtBytes(p.jsMaxGzBytes)}]`];
      }),
    ),
    '',
    ...summary.rows.map((r) => `  ${r.config}: ${r.describe}`),
  ];
  if (summary.breakdown) {
    const b = summary.breakdown;
    const total = b.rows.at(-1).ms.median;
    lines.push(
      '',
      `where a period's block goes: the recorder's steps timed in one process without an event loop, after each ${summary.periodSeconds} s worth of requests, ${b.rows[0].ms.n} periods after ${WARMUP_SECONDS} of warm-up`,
      `(last period: ${fmt(b.last.js)} JS samples, native ${fmt(b.last.native)} stacks and ${fmt(b.last.nativeLocations)} locations)`,
      formatTable(
        [{ title: 'step', align: 'left' }, { title: 'median ms', align: 'right' }, { title: 'min', align: 'right' }, { title: 'max', align: 'right' }, { title: 'share of median total', align: 'right' }],
        b.rows.map((r) => [r.step, ms(r.ms.median), ms(r.ms.min), ms(r.ms.max), r.step === 'total' ? '' : `${fmt((100 * r.ms.median) / total, 0)}%`]),
      ),
    );
  }
  return lines.join('\n');
}

function positive(name, value, fallback) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isInteger(n)) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

async function main() {
  const options = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE,
    defaultRounds: 5,
    quickRounds: 2,
    extra: {
      seconds: { type: 'string' },
      rate: { type: 'string' },
      'heap-interval': { type: 'string' },
      'native-interval': { type: 'string' },
      skip: { type: 'string' },
      trial: { type: 'string' },
    },
  });
  const seconds = positive('seconds', options.seconds, options.quick ? QUICK_SECONDS : DEFAULT_SECONDS);
  const rate = positive('rate', options.rate, DEFAULT_RATE);
  const heapInterval = options['heap-interval'] ?? DEFAULT_HEAP_INTERVAL;
  const nativeInterval = options['native-interval'] ?? DEFAULT_NATIVE_INTERVAL;
  if (options.trial === 'breakdown') {
    runBreakdown(seconds, rate, parseSize(heapInterval), parseSize(nativeInterval));
    return;
  }
  if (options.trial !== undefined) {
    runTrial(options.trial, seconds, rate);
    return;
  }
  parseSize(heapInterval);
  parseSize(nativeInterval);
  const skip = parseSkip(options.skip, CONFIG_NAMES, ['breakdown']);
  const run = beginRun();
  const summary = await runBenchmark({
    rounds: options.rounds, seed: options.seed, seconds, rate, skip,
    heapInterval, nativeInterval,
  });
  console.log(`\n${formatBenchmark(summary)}`);
  endRun(run);
  if (options.json) writeJson(options.json, { environment: run.env, seed: options.seed, summary });
}

module.exports = { runBenchmark, formatBenchmark };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
