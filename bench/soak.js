// Soak: a steady service with and without allocscope (1 s period, side by side) for minutes; fits the growth of allocscope's own memory and says whether it is flat.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseBenchArgs, parsePositiveInt, writeJson } = require('./lib/cli');
const { allocscopeRoot, beginRun, endRun } = require('./lib/env');
const { bootstrapPairedCI } = require('./lib/stats');
const { fmt, fmtBytes, formatTable } = require('./lib/table');
const { startSteadyService } = require('../test/support/steady-service');

const USAGE = `usage: node bench/soak.js [--minutes N] [--warm-up MINUTES] [--sample-every SECONDS] [--period SECONDS] [--rate N] [--quick] [--json FILE]
Runs test/fixtures/steady-service.js twice side by side, one with allocscope's continuous profiling
(-r allocscope/register, ALLOCSCOPE_PERIOD, uploading to a temporary directory that keeps the newest
files) and one without, samples both, and after the warm-up fits least-squares slopes of RSS(with) -
RSS(without), heapUsed(with) - heapUsed(without), and of allocscope's profilerBytes and liveSamples.
  --minutes N         how long (default 10; --quick: 3)
  --warm-up M         minutes left out of the fits (default 2; --quick: 1)
  --sample-every S    seconds between samples (default 10)
  --period S          allocscope's period in seconds (default 1)
  --rate N            requests per second each service sends itself (default 100)
  --json FILE         write the samples, fits and verdicts`;

/**
 * A byte series is flat when a day at either end of its slope's 95% interval adds less than
 * this share of the profiler's own memory (profilerBytes): 10% of ~14 MiB is about 1 KiB a
 * minute. It grows when even the low end adds more; between the two, the run cannot tell.
 * liveSamples, a count that noise moves by tens, has no such limit: it has a trend or not.
 */
const FLAT_SHARE_PER_DAY = 0.1;
const MINUTES_PER_DAY = 24 * 60;
const KINDS = 3; // heap, native and handles profiles each period

function parseOptions() {
  const args = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE, defaultRounds: 1, quickRounds: 1,
    extra: { minutes: { type: 'string' }, 'warm-up': { type: 'string' }, 'sample-every': { type: 'string' }, period: { type: 'string' }, rate: { type: 'string' } },
  });
  try {
    return {
      minutes: parsePositiveInt('minutes', args.minutes, args.quick ? 3 : 10),
      warmUpMinutes: parsePositiveInt('warm-up', args['warm-up'], args.quick ? 1 : 2),
      sampleEverySeconds: parsePositiveInt('sample-every', args['sample-every'], 10),
      periodSeconds: parsePositiveInt('period', args.period, 1),
      rate: parsePositiveInt('rate', args.rate, 100),
      json: args.json,
      seed: args.seed,
    };
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
}

/** linearFit fits y = a + b x by least squares; returns the slope, intercept and residuals' standard deviation. */
function linearFit(points) {
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - meanX) * (p.y - meanY);
    sxx += (p.x - meanX) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  const intercept = meanY - slope * meanX;
  const squares = points.reduce((s, p) => s + (p.y - intercept - slope * p.x) ** 2, 0);
  return { slope, intercept, residualSd: Math.sqrt(squares / Math.max(1, n - 2)) };
}

/**
 * fitSeries fits a series per minute, with a percentile bootstrap 95% interval of the slope
 * (samples resampled as independent points: successive samples are correlated, so it is
 * narrower than the truth), the slopes of its two halves (a growth that slows down is
 * filling up, not leaking), and the verdict against `limitPerMinute` (see FLAT_SHARE_PER_DAY).
 */
function fitSeries(points, limitPerMinute, seed) {
  const fit = linearFit(points);
  const ci = bootstrapPairedCI(points, (resampled) => linearFit(resampled).slope, { seed });
  const half = Math.floor(points.length / 2);
  const within = Math.max(Math.abs(ci.low), Math.abs(ci.high)) <= limitPerMinute;
  const verdict = within ? 'flat' : ci.low > limitPerMinute ? 'growing' : ci.high < -limitPerMinute ? 'shrinking' : limitPerMinute === 0 ? 'no trend' : 'inconclusive';
  return {
    slopePerMinute: fit.slope,
    ci95: [ci.low, ci.high],
    residualSd: fit.residualSd,
    firstHalfSlope: linearFit(points.slice(0, half)).slope,
    secondHalfSlope: linearFit(points.slice(half)).slope,
    start: points[0].y,
    end: points.at(-1).y,
    perDay: fit.slope * MINUTES_PER_DAY,
    limitPerMinute,
    verdict,
  };
}

/** pairSample pairs the i-th report of each service (both report every --sample-every seconds from their start). */
function pairSample(withReport, withoutReport) {
  return {
    t: withReport.t,
    rssWith: withReport.rss,
    rssWithout: withoutReport.rss,
    rssDiff: withReport.rss - withoutReport.rss,
    heapUsedDiff: withReport.heapUsed - withoutReport.heapUsed,
    externalDiff: withReport.external - withoutReport.external,
    profilerBytes: withReport.native.profilerBytes,
    liveSamples: withReport.native.liveSamples,
    nativeSamples: withReport.native.samples,
    nativeDropped: withReport.native.droppedRingFull + withReport.native.droppedTableFull + withReport.native.droppedStackTableFull,
    delivery: withReport.delivery,
    lastSequence: withReport.uploaded.lastSequence,
    profilesKept: withReport.uploaded.profiles,
    requests: { with: withReport.requests, without: withoutReport.requests },
    cpuSeconds: { with: cpuSeconds(withReport), without: cpuSeconds(withoutReport) },
  };
}

const cpuSeconds = (report) => (report.cpuMicros.user + report.cpuMicros.system) / 1e6;
const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function progressLine(s) {
  return `t=${String(Math.round(s.t)).padStart(4)} s  RSS with ${mib(s.rssWith)} without ${mib(s.rssWithout)} diff ${mib(s.rssDiff)}  heapUsed diff ${mib(s.heapUsedDiff)}  ` +
    `profilerBytes ${mib(s.profilerBytes)}  liveSamples ${s.liveSamples}  periods ${s.lastSequence}  delivered ${s.delivery.delivered} queued ${s.delivery.queued}  requests ${s.requests.with}/${s.requests.without}`;
}

/** run starts both services, samples them for the run's length, then stops them (SIGTERM: allocscope delivers its last profiles). */
async function run(options, uploadDir) {
  const samples = [];
  const args = ['--report-every', String(options.sampleEverySeconds), '--rate', String(options.rate)];
  const profiling = { uploadDir, periodSeconds: options.periodSeconds, keepFiles: 10 * KINDS, register: path.join(allocscopeRoot(), 'dist', 'register.js') };
  let services;
  const onReport = () => {
    const [withAllocscope, without] = services.map((s) => s.reports);
    while (samples.length < Math.min(withAllocscope.length, without.length)) {
      const sample = pairSample(withAllocscope[samples.length], without[samples.length]);
      samples.push(sample);
      console.log(`${sample.t < options.warmUpMinutes * 60 ? 'warm-up ' : 'sample  '}${progressLine(sample)}`);
    }
  };
  services = [startSteadyService({ profiling, args, onReport }), startSteadyService({ args, onReport })];
  const stop = () => services.forEach((s) => s.child.kill('SIGTERM'));
  process.once('SIGINT', stop);
  try {
    await Promise.all(services.map((s) => s.ready));
    const died = services.map((s, i) => s.exited.then((how) => {
      throw new Error(`the service ${i === 0 ? 'with' : 'without'} allocscope ended early (${JSON.stringify(how)}): ${s.stderr()}`);
    }));
    let timer;
    const end = new Promise((resolve) => (timer = setTimeout(resolve, options.minutes * 60_000)));
    await Promise.race([end, ...died]).finally(() => clearTimeout(timer));
  } finally {
    stop();
  }
  await Promise.all(services.map((s) => s.exited));
  return { samples, stderrWith: services[0].stderr(), files: fs.readdirSync(uploadDir) };
}

/** deliveryCheck: the periods the upload directory received, per second, and whether the kept files are whole periods. */
function deliveryCheck(samples, files, periodSeconds) {
  const [first, last] = [samples[0], samples.at(-1)];
  const perSecond = (last.lastSequence - first.lastSequence) / (last.t - first.t);
  const kinds = new Map();
  for (const name of files) {
    const sequence = /-(\d{4,})\.(heap|native|handles)\.pb\.gz$/.exec(name)?.[1];
    if (sequence !== undefined) kinds.set(sequence, (kinds.get(sequence) ?? 0) + 1);
  }
  return {
    periods: last.lastSequence,
    periodsPerSecond: perSecond,
    expectedPerSecond: 1 / periodSeconds,
    keptFiles: files.length,
    keptPeriodsComplete: [...kinds.values()].every((count) => count === KINDS),
    maxQueued: Math.max(...samples.map((s) => s.delivery.queued)),
    delivered: last.delivery.delivered,
    failedAttempts: last.delivery.failedAttempts,
    dropped: last.delivery.dropped,
    nativeDropped: last.nativeDropped,
  };
}

/** extraCpuFit fits the CPU the service with allocscope used beyond the one without, in % of a core, between successive samples: a period that costs more as the run goes on shows as a rise. */
function extraCpuFit(samples) {
  const points = samples.slice(1).map((b, i) => {
    const a = samples[i];
    const extra = b.cpuSeconds.with - a.cpuSeconds.with - (b.cpuSeconds.without - a.cpuSeconds.without);
    return { x: b.t, y: (100 * extra) / (b.t - a.t) };
  });
  const { slope, intercept } = linearFit(points);
  return { atStart: intercept + slope * samples[0].t, atEnd: intercept + slope * samples.at(-1).t };
}

function report(fits, delivery, samples, options) {
  const rows = Object.entries(fits).map(([name, f]) => {
    const unit = name === 'liveSamples' ? (v) => fmt(v, 1) : fmtBytes;
    const signed = (v) => `${v < 0 ? '-' : '+'}${unit(Math.abs(v))}`;
    return [name, `${signed(f.slopePerMinute)}/min`, `${signed(f.ci95[0])}..${signed(f.ci95[1])}`, unit(f.residualSd), `${signed(f.firstHalfSlope)} / ${signed(f.secondHalfSlope)}`,
      unit(f.start), unit(f.end), `${signed(f.perDay)}`, f.limitPerMinute === 0 ? '' : `${unit(f.limitPerMinute)}/min`, f.verdict];
  });
  const columns = ['series', 'slope', '95% CI (bootstrap)', 'residual sd', 'slope 1st / 2nd half', 'start', 'end', 'a day at this slope', 'flat below', 'verdict']
    .map((title, i) => ({ title, align: i === 0 || i === 9 ? 'left' : 'right' }));
  console.log(`\nfits over ${samples.length} samples from minute ${options.warmUpMinutes} to ${((samples.at(-1).t) / 60).toFixed(1)} (flat: a day at the slope's 95% bounds adds under ${FLAT_SHARE_PER_DAY * 100}% of profilerBytes; liveSamples: a trend or not)`);
  console.log(formatTable(columns, rows));
  const last = samples.at(-1);
  console.log(`\ndelivery: ${delivery.periods} periods, ${delivery.periodsPerSecond.toFixed(3)} per second (expected ${delivery.expectedPerSecond}); ${delivery.delivered} profiles delivered, ` +
    `${delivery.failedAttempts} failed attempts, dropped ${JSON.stringify(delivery.dropped)}, queue at most ${delivery.maxQueued}; ${delivery.keptFiles} files kept at the end, ` +
    `${delivery.keptPeriodsComplete ? 'each period complete' : 'SOME PERIOD INCOMPLETE'}; native samples dropped: ${delivery.nativeDropped}`);
  const cpu = extraCpuFit(samples);
  console.log(`cost: CPU ${last.cpuSeconds.with.toFixed(1)} s with, ${last.cpuSeconds.without.toFixed(1)} s without; allocscope's share of a core (fitted) ${cpu.atStart.toFixed(1)}% at minute ` +
    `${(samples[0].t / 60).toFixed(1)}, ${cpu.atEnd.toFixed(1)}% at minute ${(last.t / 60).toFixed(1)}; requests served ${last.requests.with} with, ${last.requests.without} without`);
}

async function main() {
  const options = parseOptions();
  const started = beginRun();
  console.log(`soak: ${options.minutes} min, warm-up ${options.warmUpMinutes} min, a sample every ${options.sampleEverySeconds} s, allocscope period ${options.periodSeconds} s, ${options.rate} requests/s per service\n`);
  const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-soak-'));
  let result;
  try {
    result = await run(options, uploadDir);
  } finally {
    fs.rmSync(uploadDir, { recursive: true, force: true });
  }
  const fitted = result.samples.filter((s) => s.t >= options.warmUpMinutes * 60);
  if (fitted.length < 4) throw new Error(`only ${fitted.length} samples after the warm-up: run longer`);
  const bytesLimit = (FLAT_SHARE_PER_DAY * fitted.at(-1).profilerBytes) / MINUTES_PER_DAY;
  const series = (field) => fitted.map((s) => ({ x: s.t / 60, y: s[field] }));
  const fits = {
    rssDiff: fitSeries(series('rssDiff'), bytesLimit, options.seed),
    heapUsedDiff: fitSeries(series('heapUsedDiff'), bytesLimit, options.seed),
    profilerBytes: fitSeries(series('profilerBytes'), bytesLimit, options.seed),
    liveSamples: fitSeries(series('liveSamples'), 0, options.seed),
  };
  const delivery = deliveryCheck(result.samples, result.files, options.periodSeconds);
  report(fits, delivery, fitted, options);
  if (result.stderrWith.trim() !== '') console.log(`\nthe service with allocscope wrote on stderr:\n${result.stderrWith.trimEnd()}`);
  endRun(started);
  if (options.json) writeJson(options.json, { environment: started.env, options, fits, delivery, samples: result.samples });
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
