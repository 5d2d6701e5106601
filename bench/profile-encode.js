// Measures the time to take and encode one large heap profile: allocscope vs @datadog/pprof on the same V8 samples.
'use strict';
const vm = require('node:vm');
const { summarize, ratio, median, mulberry32, shuffled, bootstrapRatioCI } = require('./lib/stats');
const { formatTable, fmt, fmtRatio, fmtBytes } = require('./lib/table');
const { runChild, reportResult } = require('./lib/child');
const { parseBenchArgs, writeJson } = require('./lib/cli');
const { environment, formatEnvironment } = require('./lib/env');
const { loadAllocscope, loadDatadog } = require('./lib/profilers');

const DEFAULTS = { interval: 1024, functions: 3000, paths: 6000, depth: 4, objects: 100 };
const STACK_DEPTH = 64;
const WARMUP_RUNS = 2;

const USAGE = `Usage: node bench/profile-encode.js [--rounds N] [--quick] [--seed S] [--json FILE]
                                  [--interval B] [--functions N] [--paths N] [--depth N] [--objects N]

Profile-and-encode cost on a large heap profile. In one process (started with --expose-gc) it
starts allocscope's heap profiler, then @datadog/pprof's on the same V8 sampler, so both read
the very same samples. It then builds a heap from thousands of generated functions calling each
other along distinct paths (every frame retains objects), so V8's allocation tree has 10,000+
nodes, and times, interleaved in a shuffled order each round (a full gc() before each run):
  allocscope: encode(heap.profile())            (gzipped pprof Buffer)
  datadog:    encodeSync(heap.profile())        (@datadog/pprof's synchronous encoder)
Then it stops sampling and times encoding one kept profile of each side again (encode only,
no sampler running). Prints the node count, median and spread per side, their ratio, and the
profile sizes.

  --rounds N     timed runs per side (default 15; --quick: 5), after ${WARMUP_RUNS} warm-up runs each
  --quick        fewer rounds, for a smoke run
  --seed S       seed of the run order shuffle (default: time-based; printed); the heap shape is fixed
  --interval B   sampling interval in bytes given to both profilers (default ${DEFAULTS.interval})
  --functions N  distinct generated functions (default ${DEFAULTS.functions})
  --paths N      distinct call paths executed (default ${DEFAULTS.paths})
  --depth N      frames per path (default ${DEFAULTS.depth})
  --objects N    objects each frame allocates and retains (default ${DEFAULTS.objects})
  --json FILE    also write the results as JSON
  -h, --help     this help`;

// ---------------------------------------------------------------------------------------------
// The heap: `functions` generated functions, each in its own script file, each allocating and
// retaining `objects` small objects in its own frame, then calling the next function of its path.

function generateFunctions(count) {
  const table = new Array(count);
  for (let i = 0; i < count; i++) {
    const source = `(function fn_${i}(table, path, depth, sink) {
  const own = [];
  for (let k = 0; k < sink.objects; k++) own.push({ k, fn: ${i}, tag: 'fn_${i}' });
  sink.retained.push(own);
  if (depth + 1 < path.length) table[path[depth + 1]](table, path, depth + 1, sink);
})`;
    table[i] = vm.runInThisContext(source, { filename: `generated/fn_${i}.js` });
  }
  return table;
}

function buildHeap({ functions, paths, depth, objects }) {
  const table = generateFunctions(functions);
  const rng = mulberry32(0x5eed);
  const sink = { objects, retained: [] };
  for (let p = 0; p < paths; p++) {
    const path = Array.from({ length: depth }, () => Math.floor(rng() * functions));
    table[path[0]](table, path, 0, sink);
  }
  return sink;
}

/** countTree counts the nodes of V8's allocation tree (read through @datadog/pprof's v8Profile). */
function countTree(root) {
  let nodes = 0;
  let withAllocations = 0;
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    nodes++;
    if (node.allocations.length > 0) withAllocations++;
    for (const child of node.children) stack.push(child);
  }
  return { nodes, withAllocations };
}

// ---------------------------------------------------------------------------------------------
// The measuring child.

/** takeProfile is one timed run: the side's profile() then its encoder. */
function takeProfile(side, allocscope, datadog) {
  const t0 = process.hrtime.bigint();
  const profile = side === 'allocscope' ? allocscope.heap.profile() : datadog.heap.profile();
  const t1 = process.hrtime.bigint();
  const buffer = encodeWith(side, profile, allocscope, datadog);
  const t2 = process.hrtime.bigint();
  const timing = { profileMs: Number(t1 - t0) / 1e6, encodeMs: Number(t2 - t1) / 1e6, totalMs: Number(t2 - t0) / 1e6, bytes: buffer.length };
  return { timing, profile, buffer };
}

/** timedRun keeps only the timing; the profile dies with this frame, before the next run. */
function timedRun(side, allocscope, datadog) {
  return takeProfile(side, allocscope, datadog).timing;
}

/** checkProfile takes one untimed profile, counts what it holds and decodes the file with allocscope. */
function checkProfile(side, allocscope, datadog) {
  global.gc();
  const { profile, buffer } = takeProfile(side, allocscope, datadog);
  const stats = profileStats(side, profile);
  try {
    stats.decodedSamples = allocscope.decode(buffer).samples.length;
  } catch (error) {
    stats.decodeError = error.message;
  }
  return stats;
}

function encodeWith(side, profile, allocscope, datadog) {
  return side === 'allocscope' ? allocscope.encode(profile) : datadog.encodeSync(profile);
}

/** profileStats counts what a side's profile holds; datadog's "(external)" sample is counted apart. */
function profileStats(side, profile) {
  if (side === 'allocscope') {
    let space = 0;
    for (const s of profile.samples) space += s.values[1];
    return { samples: profile.samples.length, locations: profile.locations.length, functions: profile.functions.length, inuseSpace: space };
  }
  const strings = profile.stringTable.strings;
  const externalFunctions = new Set(profile.function.filter((f) => strings[Number(f.name)] === '(external)').map((f) => Number(f.id)));
  const externalLocations = new Set(
    profile.location.filter((l) => l.line.some((ln) => externalFunctions.has(Number(ln.functionId)))).map((l) => Number(l.id)),
  );
  let space = 0;
  let external = 0;
  for (const s of profile.sample) {
    if (externalLocations.has(Number(s.locationId[0]))) external += Number(s.value[1]);
    else space += Number(s.value[1]);
  }
  return { samples: profile.sample.length, locations: profile.location.length, functions: profile.function.length, inuseSpace: space, externalSpace: external };
}

function measure(options) {
  const allocscope = loadAllocscope();
  const datadog = loadDatadog();
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc (the parent process does this)');
  if (typeof datadog.encodeSync !== 'function') throw new Error('@datadog/pprof has no encodeSync');
  // allocscope first: its start throws when V8's sampler is already running; datadog's native
  // start ignores V8's answer, so afterwards both read the one sampler allocscope started.
  allocscope.heap.start({ intervalBytes: options.interval, stackDepth: STACK_DEPTH });
  datadog.heap.start(options.interval, STACK_DEPTH);

  const buildStart = process.hrtime.bigint();
  const sink = buildHeap(options);
  const buildMs = Number(process.hrtime.bigint() - buildStart) / 1e6;
  global.gc();
  const treeBefore = countTree(datadog.heap.v8Profile());
  console.log(`  heap built in ${fmt(buildMs)} ms: ${options.functions} functions, ${options.paths} paths of depth ${options.depth}, ${sink.retained.length} frames retaining ${options.objects} objects each; heapUsed ${fmtBytes(process.memoryUsage().heapUsed)}`);
  console.log(`  V8 allocation tree: ${fmt(treeBefore.nodes)} nodes, ${fmt(treeBefore.withAllocations)} with live samples`);

  // Timed runs: nothing of a run is kept but its timing, so every run profiles the same heap.
  const sides = ['allocscope', 'datadog'];
  const runs = { allocscope: [], datadog: [] };
  const rng = mulberry32(options.seed);
  const orders = [];
  for (let round = -WARMUP_RUNS; round < options.rounds; round++) {
    const order = shuffled(sides, rng);
    for (const side of order) {
      global.gc();
      const timing = timedRun(side, allocscope, datadog);
      if (round >= 0) runs[side].push(timing);
    }
    if (round < 0) continue;
    orders.push(order.join(','));
    console.log(`  round ${round + 1}/${options.rounds}: ${order.map((s) => `${s} ${runs[s].at(-1).totalMs.toFixed(1)} ms`).join(', ')}`);
  }
  global.gc();
  const treeAfter = countTree(datadog.heap.v8Profile());

  // Untimed: one more profile per side, each taken with nothing of the other kept alive, to count
  // what it holds and check that allocscope reads both files back.
  const checks = {};
  for (const side of sides) checks[side] = checkProfile(side, allocscope, datadog);
  // Profiles kept for the encode-only runs below (datadog's, taken second, also sees allocscope's kept one).
  const kept = {};
  for (const side of sides) {
    global.gc();
    kept[side] = takeProfile(side, allocscope, datadog);
  }
  const keptSamples = { allocscope: kept.allocscope.profile.samples.length, datadog: kept.datadog.profile.sample.length };

  // Encode only, with the sampler stopped: those kept profiles encoded again, so the encoders'
  // own cost is seen without V8 sampling their allocations every --interval bytes.
  datadog.heap.stop();
  allocscope.heap.stop();
  const encodeOnly = { allocscope: [], datadog: [] };
  for (let round = -WARMUP_RUNS; round < options.rounds; round++) {
    for (const side of shuffled(sides, rng)) {
      global.gc();
      const t0 = process.hrtime.bigint();
      const buffer = encodeWith(side, kept[side].profile, allocscope, datadog);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (buffer.length !== kept[side].buffer.length) throw new Error(`${side}: encoding the same profile again gave ${buffer.length} bytes, not ${kept[side].buffer.length}`);
      if (round >= 0) encodeOnly[side].push(ms);
    }
  }
  console.log(`  encode only, sampler stopped: allocscope median ${median(encodeOnly.allocscope).toFixed(1)} ms, datadog median ${median(encodeOnly.datadog).toFixed(1)} ms`);
  if (sink.retained.length === 0) throw new Error('heap was not built');
  return { buildMs, treeBefore, treeAfter, runs, orders, checks, encodeOnly, keptSamples };
}

// ---------------------------------------------------------------------------------------------
// The parent.

async function runBenchmark(options, log = console.log) {
  log(`profile-encode: ${options.rounds} timed runs per side (after ${WARMUP_RUNS} warm-up runs each), interval ${options.interval} B, shuffle seed ${options.seed}`);
  const args = ['--measure', '--rounds', String(options.rounds), '--seed', String(options.seed)];
  for (const key of ['interval', 'functions', 'paths', 'depth', 'objects']) args.push(`--${key}`, String(options[key]));
  const raw = await runChild(__filename, args, { execArgv: ['--expose-gc'], echo: true });
  return summarizeEncode(options, raw);
}

function summarizeEncode(options, raw) {
  const side = (name) => ({
    totalMs: summarize(raw.runs[name].map((r) => r.totalMs)),
    profileMs: summarize(raw.runs[name].map((r) => r.profileMs)),
    encodeMs: summarize(raw.runs[name].map((r) => r.encodeMs)),
    bytes: summarize(raw.runs[name].map((r) => r.bytes)),
    encodeOnlyMs: summarize(raw.encodeOnly[name]),
    profile: raw.checks[name],
  });
  const allocscope = side('allocscope');
  const datadog = side('datadog');
  const paired = summarize(raw.runs.allocscope.map((r, i) => r.totalMs / raw.runs.datadog[i].totalMs));
  return {
    benchmark: 'profile-encode',
    settings: { ...options, stackDepth: STACK_DEPTH, warmupRuns: WARMUP_RUNS, datadogEncoder: 'encodeSync' },
    buildMs: raw.buildMs,
    tree: { before: raw.treeBefore, after: raw.treeAfter },
    allocscope,
    datadog,
    ratioOfMedians: ratio(allocscope.totalMs.median, datadog.totalMs.median),
    ratioCI: bootstrapRatioCI(raw.runs.allocscope.map((r) => r.totalMs), raw.runs.datadog.map((r) => r.totalMs)),
    pairedRatio: paired,
    encodeOnlyRatio: ratio(allocscope.encodeOnlyMs.median, datadog.encodeOnlyMs.median),
    encodeOnlyRatioCI: bootstrapRatioCI(raw.encodeOnly.allocscope, raw.encodeOnly.datadog),
    encodeOnlySamples: raw.keptSamples,
    orders: raw.orders,
  };
}

function formatEncode(summary) {
  const columns = [
    { title: 'side', align: 'left' },
    { title: 'median ms', align: 'right' },
    { title: 'min', align: 'right' },
    { title: 'max', align: 'right' },
    { title: 'IQR', align: 'right' },
    { title: 'profile() median ms', align: 'right' },
    { title: 'encode median ms', align: 'right' },
    { title: 'size', align: 'right' },
    { title: 'samples', align: 'right' },
    { title: 'locations', align: 'right' },
    { title: 'functions', align: 'right' },
  ];
  const row = (name, s) => [
    name,
    fmt(s.totalMs.median, 1),
    fmt(s.totalMs.min, 1),
    fmt(s.totalMs.max, 1),
    fmt(s.totalMs.iqr, 1),
    fmt(s.profileMs.median, 1),
    fmt(s.encodeMs.median, 1),
    `${fmt(s.bytes.median)} B`,
    fmt(s.profile.samples),
    fmt(s.profile.locations),
    fmt(s.profile.functions),
  ];
  const { settings, tree } = summary;
  const decoded = (p) => (p.decodeError ? `allocscope decode failed: ${p.decodeError}` : `allocscope decode reads back ${fmt(p.decodedSamples)} samples`);
  return [
    `profile-encode: ${settings.rounds} timed runs per side, interval ${settings.interval} B, stackDepth ${settings.stackDepth}, gc() before each run`,
    `  heap: ${settings.functions} generated functions, ${settings.paths} paths of depth ${settings.depth}, ${settings.objects} objects retained per frame (built in ${fmt(summary.buildMs)} ms)`,
    `  V8 allocation tree: ${fmt(tree.before.nodes)} nodes before the timed runs (${fmt(tree.before.withAllocations)} with live samples), ${fmt(tree.after.nodes)} after them`,
    `  allocscope: encode(heap.profile()) -> gzipped pprof`,
    `  datadog:    encodeSync(heap.profile()) -> gzipped pprof (synchronous encoder; the async encode() is not timed)`,
    formatTable(columns, [row('allocscope', summary.allocscope), row('datadog', summary.datadog)]),
    '',
    `  profile contents (one more untimed profile per side, after the timed runs):`,
    `  allocscope: in-use space ${fmtBytes(summary.allocscope.profile.inuseSpace)}; ${decoded(summary.allocscope.profile)}`,
    `  datadog:    in-use space ${fmtBytes(summary.datadog.profile.inuseSpace)} plus ${fmtBytes(summary.datadog.profile.externalSpace)} in its "(external)" sample; ${decoded(summary.datadog.profile)}`,
    '',
    `allocscope / datadog time = ${fmtRatio(summary.ratioOfMedians)} [95% bootstrap CI ${fmtRatio(summary.ratioCI.low)}..${fmtRatio(summary.ratioCI.high)}] (ratio of medians; below 1 means allocscope is faster)`,
    `  paired per round: median ${fmtRatio(summary.pairedRatio.median)} [${fmtRatio(summary.pairedRatio.min)}..${fmtRatio(summary.pairedRatio.max)}]`,
    '',
    `encode only, sampler stopped (one kept profile of each side encoded again, ${settings.rounds} interleaved runs per side, gc() before each):`,
    formatTable(
      [{ title: 'side', align: 'left' }, { title: 'median ms', align: 'right' }, { title: 'min', align: 'right' }, { title: 'max', align: 'right' }, { title: 'IQR', align: 'right' }],
      ['allocscope', 'datadog'].map((name) => {
        const s = summary[name].encodeOnlyMs;
        return [name, fmt(s.median, 1), fmt(s.min, 1), fmt(s.max, 1), fmt(s.iqr, 1)];
      }),
    ),
    `allocscope / datadog encode-only time = ${fmtRatio(summary.encodeOnlyRatio)} [95% bootstrap CI ${fmtRatio(summary.encodeOnlyRatioCI.low)}..${fmtRatio(summary.encodeOnlyRatioCI.high)}] (ratio of medians; the encoded profiles hold ${fmt(summary.encodeOnlySamples.allocscope)} and ${fmt(summary.encodeOnlySamples.datadog)} samples)`,
    '',
    `  size: allocscope ${fmtBytes(summary.allocscope.bytes.median)} vs datadog ${fmtBytes(summary.datadog.bytes.median)} (ratio ${fmtRatio(ratio(summary.allocscope.bytes.median, summary.datadog.bytes.median))})`,
  ].join('\n');
}

function parse(argv) {
  const numbers = Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, { type: 'string' }]));
  const options = parseBenchArgs(argv, { usage: USAGE, defaultRounds: 15, quickRounds: 5, extra: { ...numbers, measure: { type: 'boolean', default: false } } });
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const value = options[key] === undefined ? fallback : Number(options[key]);
    if (!Number.isInteger(value) || value < 1) {
      process.stderr.write(`--${key} must be a positive integer, got ${options[key]}\n`);
      process.exit(2);
    }
    options[key] = value;
  }
  return options;
}

async function main() {
  const options = parse(process.argv.slice(2));
  if (options.measure) {
    reportResult(measure(options));
    return;
  }
  const env = environment();
  console.log(formatEnvironment(env));
  const summary = await runBenchmark(options);
  console.log('');
  console.log(formatEncode(summary));
  if (options.json) writeJson(options.json, { environment: env, ...summary });
}

module.exports = { runBenchmark, formatEncode, DEFAULTS };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
