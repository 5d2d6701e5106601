// Counts, under valgrind's callgrind, the instructions an HTTP service runs per request with and without allocscope: a cost split that this noisy machine's clocks cannot give.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { parseBenchArgs, parsePositiveInt, writeJson } = require('./lib/cli');
const { allocscopeRoot, beginRun, endRun } = require('./lib/env');
const { median, mulberry32, shuffled } = require('./lib/stats');
const { formatTable, fmt } = require('./lib/table');
const { WORKLOADS } = require('./fixtures/service-server');
const { parseVariants } = require('./service-load');

const SERVER = path.join(__dirname, 'fixtures', 'service-server.js');
const DEFAULT_WARMUP = 2000;
const DEFAULT_REQUESTS = 3000;
const PARALLEL = 2; // valgrind runs a process on one CPU at a time; this machine has two
const START_TIMEOUT_MS = 120_000;

const USAGE = `Usage: node bench/service-instructions.js [--workload buffers|json] [--rounds N] [--quick]
                                          [--warmup N] [--requests N] [--variant NAME:K=V,...]
                                          [--cache-sim] [--seed S] [--json FILE]

Runs the service of bench/fixtures/service-server.js under valgrind --tool=callgrind, sends it
--warmup requests (default ${DEFAULT_WARMUP}; V8 tiers up its hot code meanwhile), zeroes the counts,
sends --requests more (default ${DEFAULT_REQUESTS}) one at a time, and dumps them. Reports the instructions
per request of the main thread, split by where they ran (allocscope's addon, V8's GC, V8's IC and
baseline builtins, JIT code, glibc malloc, the service's own libraries, ...), and of the other
threads (V8's compiler and GC helpers, allocscope's drain thread).

Configurations, in a shuffled order each round, two at a time: baseline, baseline-2 (the A/A
control) and allocscope (node -r dist/register.js with its production defaults, no collection
in the window: ALLOCSCOPE_PERIOD=1000). Under valgrind a request takes ~50 times longer, so what
allocscope does per second (its drain's wake-ups, the native sample budget) weighs ~50 times more
per request than in production: allocscope runs at a fixed native interval that gives the
samples per request the budget gives at 300 requests/s (ALLOCSCOPE_NATIVE_INTERVAL=1600k,
ALLOCSCOPE_NATIVE_MAX_RATE=0). --variant adds an allocscope configuration with more settings.

Instructions are not time: cache misses and system calls (the drain thread's wake-ups) do not
show, so this splits the cost; bench/service-side-by-side.js measures it. Counts repeat within
~0.5% between identical processes (baseline-2); a major GC or a TurboFan recompilation inside the
window moves a configuration by ~1-2%, which the rounds' medians absorb. Needs valgrind.

  --workload W       buffers (default) or json
  --rounds N         rounds (default 3; --quick: 1)
  --warmup N         requests before counting (default ${DEFAULT_WARMUP}; --quick: 500)
  --requests N       requests counted (default ${DEFAULT_REQUESTS}; --quick: 500)
  --variant NAME:ALLOCSCOPE_NAME=value,...   one more allocscope configuration
  --cache-sim        also simulate the caches (callgrind --cache-sim=yes; ~2x slower) and report
                     first-level and last-level cache misses per request the same way: where
                     allocscope's extra cache misses fall, which instruction counts do not show.
                     The simulated caches are this CPU's sizes, one process alone in them.
  --seed S           seed of the configurations' order
  --json FILE        also write the results as JSON`;

// Where a function's own instructions are counted, first match wins.
const CATEGORIES = [
  ['allocscope addon', (fn, obj) => obj.includes('allocscope')],
  ['JIT code', (fn, obj) => obj === '' || obj === '???'],
  ['V8 IC + baseline builtins', (fn) => /^Builtins_.*(IC|Baseline)/.test(fn)],
  ['V8 other builtins', (fn) => fn.startsWith('Builtins_')],
  ['V8 GC', (fn) => /Scaveng|Marking|MarkCompact|Sweep|Evacuat|GlobalHandles|IterateObjectCache|Pretenuring|RememberedSet|Visitor|Worklist|BodyDescriptor|heap::base/.test(fn)],
  ['V8 runtime', (fn) => fn.includes('v8::')],
  ['glibc malloc', (fn, obj) => obj.includes('libc.so') && /malloc|free|_int_|consolidate|tcache|calloc|realloc/.test(fn)],
  ['glibc other', (fn, obj) => obj.includes('libc.so') || obj.includes('ld-linux')],
  ['Node', (fn) => fn.includes('node::')],
  ['other (zlib, OpenSSL, libuv)', () => true],
];

/**
 * selfCosts reads a callgrind output file: each function's own cost per event
 * ("fn [object]" -> [Ir, ...] in the order of the file's events: line).
 */
function selfCosts(file) {
  const names = new Map();
  const objects = new Map();
  const costs = new Map();
  let events = ['Ir'];
  const resolve = (table, text) => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(text);
    if (match === null) return text;
    if (match[2] !== undefined) table.set(match[1], match[2]);
    return table.get(match[1]);
  };
  let fn = null;
  let object = '';
  let afterCall = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('events:')) events = line.slice(7).trim().split(/\s+/);
    else if (line.startsWith('ob=')) object = resolve(objects, line.slice(3));
    else if (line.startsWith('fn=')) fn = `${resolve(names, line.slice(3))}\t${object}`;
    else if (line.startsWith('cfn=')) resolve(names, line.slice(4));
    else if (line.startsWith('cob=')) resolve(objects, line.slice(4));
    else if (line.startsWith('calls=')) afterCall = true;
    else if (fn !== null && /^[+\-*\d]/.test(line)) {
      // The line after calls= is the callee's inclusive cost, not this function's own.
      if (afterCall) {
        afterCall = false;
        continue;
      }
      // A position, then one count per event; counts left off at the end are 0.
      const values = line.trim().split(/\s+/).slice(1).map(Number);
      let sums = costs.get(fn);
      if (sums === undefined) costs.set(fn, (sums = new Array(events.length).fill(0)));
      values.forEach((value, i) => { sums[i] += value; });
    }
  }
  return { events, costs };
}

/** The events a measure sums: instructions, or (with --cache-sim) misses of the first-level and last-level caches. */
const MEASURES = {
  instructions: ['Ir'],
  'L1 misses': ['I1mr', 'D1mr', 'D1mw'],
  'LL misses': ['ILmr', 'DLmr', 'DLmw'],
};

/** measureOf sums a function's costs over a measure's events (none of them counted: 0). */
function measureOf(events, sums, measure) {
  return MEASURES[measure].reduce((total, event) => total + (sums[events.indexOf(event)] ?? 0), 0);
}

/** perRequest turns one thread's self costs into a measure per request: in all, and by category. */
function perRequest({ events, costs }, measure, requests) {
  const byCategory = Object.fromEntries(CATEGORIES.map(([name]) => [name, 0]));
  let total = 0;
  for (const [key, sums] of costs) {
    const [fn, object] = key.split('\t');
    const [name] = CATEGORIES.find(([, test]) => test(fn, object ?? ''));
    const value = measureOf(events, sums, measure) / requests;
    byCategory[name] += value;
    total += value;
  }
  return { total, byCategory };
}

function sendRequests(port, workload, count, agent) {
  const { path: urlPath, method, headers, body } = WORKLOADS[workload];
  const one = () => new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers, agent }, (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
    });
    request.on('error', reject);
    request.end(body);
  });
  return (async () => {
    for (let i = 0; i < count; i++) await one();
  })();
}

/** countTrial runs one server under callgrind and returns its instructions per counted request. */
async function countTrial(config, env, options) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-bench-instructions-'));
  const out = path.join(dir, 'callgrind.out');
  const execArgv = env === null ? [] : ['-r', path.join(allocscopeRoot(), 'dist', 'register.js')];
  const serverEnv = { ...process.env, ...(env ?? {}), ALLOCSCOPE_UPLOAD: path.join(dir, 'profiles'), ALLOCSCOPE_SPOOL: path.join(dir, 'spool') };
  const child = spawn('valgrind', ['--tool=callgrind', '--separate-threads=yes', `--cache-sim=${options.measures.length > 1 ? 'yes' : 'no'}`, `--callgrind-out-file=${out}`, process.execPath, ...execArgv, SERVER, options.workload, '--no-loop-probes'],
    { env: serverEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  try {
    const port = await new Promise((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`${config}: no port within ${START_TIMEOUT_MS / 1000} s\n${stderr}`)), START_TIMEOUT_MS);
      child.stdout.on('data', (d) => {
        text += d;
        const match = /"port":(\d+)/.exec(text);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.on('exit', (code) => reject(new Error(`${config}: the server exited (${code}) before listening\n${stderr}`)));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await sendRequests(port, options.workload, options.warmup, agent);
    execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
    await sendRequests(port, options.workload, options.requests, agent);
    execFileSync('callgrind_control', ['--dump=counted', String(child.pid)], { stdio: 'ignore' });
    agent.destroy();
    child.stdin.end();
    await exited;
    // The dump of the counted window: one file per thread, callgrind.out.1-01 for the main thread.
    const files = fs.readdirSync(dir).filter((f) => /^callgrind\.out\.1-\d+$/.test(f)).sort();
    if (files.length === 0) throw new Error(`${config}: callgrind wrote no dump\n${stderr}`);
    const threads = files.map((f) => selfCosts(path.join(dir, f)));
    return Object.fromEntries(options.measures.map((measure) => {
      const [main, ...others] = threads.map((thread) => perRequest(thread, measure, options.requests));
      return [measure, { main: main.total, categories: main.byCategory, otherThreads: others.reduce((sum, t) => sum + t.total, 0) }];
    }));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function inParallel(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  }));
  return results;
}

async function main() {
  const values = parseBenchArgs(process.argv.slice(2), {
    usage: USAGE, defaultRounds: 3, quickRounds: 1,
    extra: { workload: { type: 'string', default: 'buffers' }, warmup: { type: 'string' }, requests: { type: 'string' }, 'cache-sim': { type: 'boolean', default: false }, variant: { type: 'string', multiple: true } },
  });
  const fail = (message) => {
    process.stderr.write(`${message}\n`);
    process.exit(2);
  };
  if (!WORKLOADS[values.workload]) fail(`--workload must be buffers or json, got '${values.workload}'`);
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    fail('valgrind is not installed: apt-get install valgrind');
  }
  const production = { ALLOCSCOPE_PERIOD: '1000', ALLOCSCOPE_NATIVE_INTERVAL: '1600k', ALLOCSCOPE_NATIVE_MAX_RATE: '0' };
  const configs = { baseline: null, 'baseline-2': null, allocscope: production };
  let options;
  try {
    options = {
      workload: values.workload,
      warmup: parsePositiveInt('warmup', values.warmup, values.quick ? 500 : DEFAULT_WARMUP),
      requests: parsePositiveInt('requests', values.requests, values.quick ? 500 : DEFAULT_REQUESTS),
      measures: values['cache-sim'] ? Object.keys(MEASURES) : ['instructions'],
    };
    for (const [name, env] of Object.entries(parseVariants(values.variant))) configs[name] = { ...production, ...env };
  } catch (error) {
    fail(error.message);
  }
  const run = beginRun();
  const rng = mulberry32(Number(values.seed ?? Date.now() % 100_000));
  console.log(`service-instructions: ${options.workload}, ${values.rounds} rounds, ${options.warmup} requests of warm-up, ${options.requests} counted`);
  const trials = Object.fromEntries(Object.keys(configs).map((c) => [c, []]));
  for (let round = 1; round <= values.rounds; round++) {
    const order = shuffled(Object.keys(configs), rng);
    const results = await inParallel(order.map((config) => () => countTrial(config, configs[config], options)), PARALLEL);
    order.forEach((config, i) => {
      trials[config].push(results[i]);
      const { main, otherThreads } = results[i].instructions;
      console.log(`  round ${round}: ${config.padEnd(12)} main ${fmt(main / 1000, 1)}k instructions/request, other threads ${fmt(otherThreads / 1000, 1)}k`);
    });
  }
  const names = Object.keys(configs);
  for (const measure of options.measures) {
    // Instructions in thousands a request; misses as they are.
    const [scale, digits, unit] = measure === 'instructions' ? [1000, 1, 'thousands'] : [1, 0, 'count'];
    const medianOf = (config, pick) => median(trials[config].map((t) => pick(t[measure])));
    const base = medianOf('baseline', (m) => m.main);
    console.log(`\n${measure[0].toUpperCase()}${measure.slice(1)} per request (${unit}, medians over ${values.rounds} rounds); main thread by where they ran:`);
    const rows = CATEGORIES.map(([category]) => [category, ...names.map((c) => fmt(medianOf(c, (m) => m.categories[category]) / scale, digits))]);
    rows.push(['main thread', ...names.map((c) => fmt(medianOf(c, (m) => m.main) / scale, digits))]);
    rows.push(['  over baseline', ...names.map((c) => `${((medianOf(c, (m) => m.main) / base - 1) * 100).toFixed(2)}%`)]);
    rows.push(['other threads', ...names.map((c) => fmt(medianOf(c, (m) => m.otherThreads) / scale, digits))]);
    console.log(formatTable([{ title: '', align: 'left' }, ...names.map((title) => ({ title, align: 'right' }))], rows));
  }
  if (values.json) writeJson(values.json, { options, trials });
  endRun(run);
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
