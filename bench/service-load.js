// Measures what the profilers cost an HTTP service under load from autocannon: requests/s, p99 latency, event-loop delay.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { parseResult } = require('./lib/child');
const { parseBenchArgs, parseList, parseSkip, parsePositiveInt, writeJson } = require('./lib/cli');
const { allocscopeRoot, beginRun, endRun } = require('./lib/env');
const { findPeers, formatPeers, peerSpec } = require('./lib/native-peers');
const { loadAllocscope } = require('./lib/profilers');
const { summarize, ratio, median, mulberry32, shuffled, bootstrapRatioCI, bootstrapDiffCI } = require('./lib/stats');
const { formatTable, fmt, fmtRatio, fmtBytes } = require('./lib/table');
const { CONNECTIONS } = require('./fixtures/service-client');
const { GAP_RECORD_MS, WORKLOADS } = require('./fixtures/service-server');

const SERVER = path.join(__dirname, 'fixtures', 'service-server.js');
const CLIENT = path.join(__dirname, 'fixtures', 'service-client.js');
const DEFAULT_SECONDS = 10;
const QUICK_SECONDS = 3;
const WARMUP_SECONDS = 2;
const QUICK_WARMUP_SECONDS = 1;
const MAX_PERIOD_SECONDS = 5;
const TARGET_RATIO = 0.98;
// Per trial beyond the load itself: server start, the client's start, the profilers' exit work.
const TRIAL_OVERHEAD_SECONDS = 2;
// A collection takes its profiles in one turn, then encodes each in a turn of its own: the longest
// gap of the server's loop overlapping this span from its start is the block it caused.
const COLLECTION_SPAN_MS = 100;
const START_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 60_000;

const CONFIG_NAMES = ['baseline', 'baseline-2', 'allocscope', 'datadog', 'heap-prof', 'jemalloc', 'jemalloc-prof', 'heaptrack'];

const USAGE = `Usage: node bench/service-load.js [--rounds N] [--quick] [--seconds S] [--warmup S] [--period S]
                                  [--workloads LIST] [--only LIST] [--skip LIST] [--live-mib N] [--node-flags=FLAGS]
                                  [--jemalloc PATH] [--heaptrack PATH] [--seed S] [--json FILE]

What each profiler costs an HTTP service under load. Each trial starts a fresh server process
(bench/fixtures/service-server.js) and a load generator in another process
(bench/fixtures/service-client.js: autocannon's API, ${CONNECTIONS} connections, no pipelining, as fast as
the server answers): --warmup seconds of warm-up (default ${WARMUP_SECONDS}; --quick: ${QUICK_WARMUP_SECONDS}), then --seconds
measured (default ${DEFAULT_SECONDS}; --quick: ${QUICK_SECONDS}). The client reports requests/s (2xx responses over the run's
duration; any error or non-2xx fails the trial) and the p50/p99 latency of each response, timed
to the microsecond; the server reports its own event-loop delay over the measured window
(perf_hooks.monitorEventLoopDelay, 1 ms resolution: p99 and max), its RSS, and its CPU time per
request (process.cpuUsage over the window, every thread of the process, divided by the requests
served: what a profiler costs in CPU, less sensitive than requests/s to the load generator's share
of the machine).

Workloads (--workloads, default json,buffers):
  json     POST /search: parse a JSON query, filter and sort a 2,000-product catalogue, answer a
           page of 20 with facets, ~7 KB of JSON (an API handler's work: parse, objects, strings)
  buffers  GET /unit: per request, one unit of bench/native-workload.js (bench/lib/native-unit.js:
           8 Buffer.allocUnsafeSlow of 64 B - 256 KiB, a deflateSync of a small text, a sha256)

Configurations, in a shuffled order in every round:
  baseline       no profiler
  baseline-2     the same again: the A/A control
  allocscope     production defaults: node -r dist/register.js, ALLOCSCOPE_UPLOAD=<temp dir>:
                 JS heap + native profiling at the default 512 KiB intervals, a profile pair (and
                 a handles profile) written to the directory every --period seconds
  datadog        @datadog/pprof: heap.start(524288, 64), and every --period seconds an encoded
                 heap.profile() written to a temp dir (as a continuous profiler runs it)
  heap-prof      node --heap-prof --heap-prof-interval=524288 (V8's sampler; one profile at exit)
  jemalloc       LD_PRELOAD=libjemalloc.so.2, no profiling: the allocator change alone
  jemalloc-prof  the same with MALLOC_CONF=prof:true,lg_prof_sample:19 (512 KiB), and
                 prof_final into a temp dir so that each trial proves its profiler was on
  heaptrack      heaptrack node ... (every call recorded; its data file goes to a temp dir)
A peer that is not installed is skipped with the reason.

--period (default: the smaller of ${MAX_PERIOD_SECONDS} and half of --seconds) is far shorter than allocscope's
production default of 60 s so that every measured window holds at least two collections; each
allocscope and datadog trial checks that it did (files stamped inside the window) and that
allocscope wrote JS heap and native profiles with samples, and fails loudly otherwise. With a
warm-up shorter than the period, the window holds a fresh process's first collections, which also
symbolize every stack seen for the first time; --warmup above --period leaves the first out.

Reports per workload and configuration: median requests/s, min-max, IQR, the ratio of medians to
baseline with a 95% bootstrap CI (4,000 resamples) and the per-round paired ratio; the p50 and
p99 latency medians and the p99 ratio to baseline with its CI; the event-loop delay's p99 and max
(median over trials), and the max's excess over baseline's (difference of medians, bootstrap CI):
for allocscope, the longest event-loop block a collection causes, printed with its raw max. As a
direct check, the server also records each gap of its loop of ${GAP_RECORD_MS} ms or more (a 1 ms ticker) with
its wall-clock time; for allocscope and datadog the longest gap overlapping the first ${COLLECTION_SPAN_MS} ms of a
collection (its files are stamped with its start) is the block the collection caused, per trial.
Targets (reported, not asserted): allocscope keeps >= ${TARGET_RATIO} of baseline's requests/s, and its
p99 latency within 1/${TARGET_RATIO} of baseline's. The A/A ratio is the noise floor.

Duration: rounds x workloads x configurations x (warm-up + seconds + ~${TRIAL_OVERHEAD_SECONDS} s). The full run,
5 rounds x 2 workloads x 8 configurations at the defaults, takes about 19 minutes.

  --rounds N         rounds (default 5; --quick: 1)
  --quick            1 round, ${QUICK_SECONDS} s windows (a smoke run)
  --seconds S        measured seconds per trial (default ${DEFAULT_SECONDS}; --quick: ${QUICK_SECONDS})
  --warmup S         seconds of load before the measured window (default ${WARMUP_SECONDS}; --quick: ${QUICK_WARMUP_SECONDS})
  --period S         seconds between collections of allocscope and datadog (see above)
  --allocscope-env K=V,...  more settings for allocscope, e.g. ALLOCSCOPE_NATIVE_INTERVAL=2m or
                     ALLOCSCOPE_HEAP=0: what each part costs, what a larger interval buys
  --variant NAME:K=V,...  one more allocscope configuration, allocscope:NAME, with these settings
                     on top of --allocscope-env's; repeatable, e.g. --variant nonative:ALLOCSCOPE_NATIVE=0;
                     ALLOCSCOPE_BENCH_ROOT=DIR runs the allocscope built in DIR (an older commit)
  --node-flags=FLAGS  Node/V8 flags given to every server alike, baseline included, separated by
                     spaces, after "=" (they start with --), e.g. --node-flags=--no-memory-reducer
                     (docs/performance.md: V8's memory reducer starts runs of major GCs that hit
                     servers at random, allocscope or not)
  --live-mib N       every server first builds N MiB of long-lived objects (a cache of records),
                     as services carry; default 0. V8 sizes a small heap's old-generation limit
                     near its minimum, and there a few MB more live (any library's) start a
                     major GC every few tens of ms on the buffers workload: see docs/performance.md
  --workloads LIST   json,buffers (default both)
  --only LIST        run only these configurations (baseline is always run)
  --skip LIST        configurations to leave out, comma-separated
  --jemalloc PATH    libjemalloc.so.2 to preload (default: found in the usual library directories)
  --heaptrack PATH   heaptrack launcher (default: from PATH)
  --seed S           seed of the shuffles (default: time-based; printed)
  --json FILE        also write the results as JSON
  -h, --help         this help`;

// ---------------------------------------------------------------------------------------------
// The parent: processes driven by marked result lines.

/**
 * spawnDriven starts a process whose stdout carries reportResult lines ({ event, ... }) and whose
 * stdin takes commands. In its own process group, so that kill() ends a wrapper's children too.
 */
function spawnDriven(name, command, env, { quietStderr = false } = {}) {
  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env, detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-16384);
    if (!quietStderr) process.stderr.write(chunk);
  });
  const messages = [];
  const waiters = [];
  let exit;
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i];
      const found = messages.findIndex((m) => m.event === w.event);
      if (found !== -1) w.resolve(messages.splice(found, 1)[0]);
      else if (exit) w.reject(new Error(`the ${name} exited (${exit.signal ?? exit.code}) before '${w.event}'${stderr ? `\n${stderr}` : ''}`));
      else continue;
      clearTimeout(w.timer);
      waiters.splice(i, 1);
    }
  };
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const message = parseResult(line);
    if (message !== undefined) messages.push(message);
    settle();
  });
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      exit = { code, signal };
      settle();
      resolve(exit);
    });
  });
  const kill = () => {
    if (exit === undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  return {
    next(event, timeoutMs = START_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const waiter = { event, resolve, reject };
        waiter.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no '${event}' from the ${name} (${command.join(' ')}) within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
        settle();
      });
    },
    pid: child.pid,
    send: (line) => child.stdin.write(`${line}\n`),
    /** end closes stdin and waits for a clean exit; kills the process group after the timeout. */
    async end(timeoutMs = EXIT_TIMEOUT_MS) {
      child.stdin.end();
      let timer;
      const late = new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs, 'late');
      });
      const done = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (done === 'late') throw new Error(`the ${name} (${command.join(' ')}) did not exit within ${timeoutMs} ms of its stdin's end`);
      if (done.code !== 0) throw new Error(`the ${name} (${command.join(' ')}) exited with ${done.signal ?? done.code}${stderr ? `\n${stderr}` : ''}`);
    },
    kill,
  };
}

// ---------------------------------------------------------------------------------------------
// The configurations, and how each trial proves its profiler ran.

/** cleanEnv drops ALLOCSCOPE_* settings of the caller, except the one that says which build to measure. */
function cleanEnv(env) {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('ALLOCSCOPE_') || key === 'ALLOCSCOPE_BENCH_ROOT'));
}

/** filesIn lists a directory's files matching `pattern` with their sizes, and the times read from their names. */
function filesIn(dir, pattern, timeOf) {
  return fs.readdirSync(dir).filter((name) => pattern.test(name)).map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size, time: timeOf?.(name) }));
}

/** evidence summarizes what a profiler wrote: files, bytes and, for periodic ones, the collections inside the window. */
function evidence(files, window, { minInWindow = 0, what }) {
  if (files.length === 0) throw new Error(`${what}: no profile written`);
  const collections = files.map((f) => f.time).filter((t) => t >= window.startMs && t <= window.endMs);
  if (collections.length < minInWindow) throw new Error(`${what}: ${collections.length} collections inside the measured window, ${minInWindow} expected (files: ${files.map((f) => f.name).join(', ')})`);
  return { files: files.length, bytes: files.reduce((sum, f) => sum + f.bytes, 0), collections: minInWindow ? collections : undefined };
}

function heaptrackEvidence(bytes) {
  if (bytes === 0) throw new Error('heaptrack: no data file written');
  return { files: 1, bytes };
}

/**
 * allocscopeEvidence checks the directory destination: the profiles of each kind turned on, two
 * collections in the window (fewer if ALLOCSCOPE_PERIOD is set longer), and native samples
 * (unless --allocscope-env set the interval).
 */
function allocscopeEvidence(dir, window, allocscopeEnv) {
  const { decode } = loadAllocscope();
  const { parseProfileFileName } = require(path.join(allocscopeRoot(), 'dist', 'record', 'file-names.js'));
  const all = filesIn(dir, /\.pb\.gz$/, (name) => parseProfileFileName(name)?.time.getTime());
  const byKind = (kind) => all.filter((f) => parseProfileFileName(f.name)?.kind === kind);
  const kinds = [...(allocscopeEnv.ALLOCSCOPE_HEAP === '0' ? [] : ['heap']), ...(allocscopeEnv.ALLOCSCOPE_NATIVE === '0' ? [] : ['native'])];
  // One profile of each kind per collection, stamped when the collection started.
  // Two collections, or fewer when a variant's ALLOCSCOPE_PERIOD leaves room for fewer.
  const period = allocscopeEnv.ALLOCSCOPE_PERIOD;
  const minInWindow = period === undefined ? 2 : Math.min(2, Math.floor((window.endMs - window.startMs) / 1000 / periodSeconds('ALLOCSCOPE_PERIOD', period)));
  const found = kinds.map((kind) => evidence(byKind(kind), window, { minInWindow, what: `allocscope ${kind === 'heap' ? 'JS heap' : 'native'}` }));
  let nativeSamples;
  if (kinds.includes('native')) {
    const last = byKind('native').sort((a, b) => a.time - b.time).at(-1);
    nativeSamples = decode(fs.readFileSync(path.join(dir, last.name))).samples.length;
    if (nativeSamples === 0 && allocscopeEnv.ALLOCSCOPE_NATIVE_INTERVAL === undefined) throw new Error(`allocscope native: ${last.name} has no samples`);
  }
  return { files: all.length, bytes: found.reduce((sum, f) => sum + f.bytes, 0), collections: found[0]?.collections, nativeSamples };
}

/** periodSeconds reads a period as allocscope's recorder does (seconds); throws its message otherwise. */
function periodSeconds(name, text) {
  return require(path.join(allocscopeRoot(), 'dist', 'util', 'parse-units.js')).parseSeconds(name, text);
}

/** withTempDir runs a trial with a fresh temporary directory, removed after it. */
function withTempDir(describe, spawnIn) {
  return {
    describe,
    spawn() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-bench-service-'));
      return { ...spawnIn(dir), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
    },
  };
}

/**
 * parseVariants reads each --variant NAME:K=V,...: one more allocscope configuration, named
 * allocscope:NAME, with these ALLOCSCOPE_* settings on top of --allocscope-env's.
 */
function parseVariants(texts = []) {
  const variants = {};
  for (const text of texts) {
    const match = /^([a-z0-9-]+):(.+)$/.exec(text);
    if (match === null) throw new Error(`--variant: expected NAME:ALLOCSCOPE_NAME=value,... (NAME in a-z, 0-9 and -), got '${text}'`);
    if (variants[match[1]]) throw new Error(`--variant: ${match[1]} is given twice`);
    variants[match[1]] = parseAllocscopeEnv(match[2], `--variant ${match[1]}`);
  }
  return variants;
}

/** parseAllocscopeEnv reads --allocscope-env: ALLOCSCOPE_* settings given to the allocscope configuration only. */
function parseAllocscopeEnv(text, flag = '--allocscope-env') {
  const env = {};
  for (const pair of parseList(text, [])) {
    const match = /^(ALLOCSCOPE_[A-Z_]+)=(.*)$/.exec(pair);
    if (match === null) throw new Error(`${flag}: expected ALLOCSCOPE_NAME=value pairs separated by commas, got '${pair}'`);
    // allocscopeEvidence counts the collections this period allows: a bad one fails here, not after a round.
    if (match[1] === 'ALLOCSCOPE_PERIOD') periodSeconds(`${flag}: ALLOCSCOPE_PERIOD`, match[2]);
    env[match[1]] = match[2];
  }
  return env;
}

/** parseNodeFlags reads --node-flags: Node and V8 flags separated by spaces, given to every server alike. */
function parseNodeFlags(text = '') {
  const flags = text.split(/\s+/).filter((flag) => flag !== '');
  for (const flag of flags) if (!flag.startsWith('--')) throw new Error(`--node-flags: expected flags starting with --, separated by spaces, got '${flag}'`);
  return flags;
}

/** describeNodeFlags is the run header's mention of --node-flags ('' without any). */
function describeNodeFlags(nodeFlags) {
  return nodeFlags.length > 0 ? `, Node flags for every server: ${nodeFlags.join(' ')}` : '';
}

/** The configurations that --variant adds are named allocscope:NAME. */
const VARIANT_PREFIX = 'allocscope:';

/**
 * allocscopeSpec runs the server under dist/register.js, uploading to a temp dir every `period` s,
 * with `allocscopeEnv` on top. ALLOCSCOPE_BENCH_ROOT there runs another build (see
 * bench/lib/env.js), e.g. a variant with the previous commit's, side by side with this one.
 */
function allocscopeSpec(env, period, allocscopeEnv) {
  const root = allocscopeEnv.ALLOCSCOPE_BENCH_ROOT === undefined ? allocscopeRoot() : path.resolve(allocscopeEnv.ALLOCSCOPE_BENCH_ROOT);
  const settings = Object.entries(allocscopeEnv).map(([k, v]) => `${k}=${v}`).join(', ');
  const defaults = `node -r dist/register.js, ALLOCSCOPE_UPLOAD=<temp dir>, ALLOCSCOPE_PERIOD=${period}: JS heap + native at 512 KiB`;
  return withTempDir(settings === '' ? defaults : `${defaults}, then ${settings}`, (dir) => ({
    execArgv: ['-r', path.join(root, 'dist', 'register.js')],
    env: { ...env, ALLOCSCOPE_UPLOAD: path.join(dir, 'profiles'), ALLOCSCOPE_PERIOD: period, ALLOCSCOPE_SPOOL: path.join(dir, 'spool'), ...allocscopeEnv },
    check: (window) => allocscopeEvidence(path.join(dir, 'profiles'), window, allocscopeEnv),
  }));
}

function configSpec(name, peers, options) {
  const env = cleanEnv(process.env);
  const period = String(options.period);
  switch (name) {
    case 'baseline':
      return { describe: 'no profiler', spawn: () => ({ env }) };
    case 'baseline-2':
      return { describe: 'no profiler (identical to baseline: the A/A control)', spawn: () => ({ env }) };
    case 'allocscope':
      return allocscopeSpec(env, period, options.allocscopeEnv ?? {});
    case 'datadog':
      return withTempDir(`@datadog/pprof heap.start(524288, 64), encode(heap.profile()) to a temp dir every ${period} s`, (dir) => ({
        env,
        serverArgs: ['--datadog', dir, '--period', period],
        check: (window) => evidence(filesIn(dir, /^datadog-\d+\.heap\.pb\.gz$/, (n) => Number(/\d+/.exec(n)[0])), window, { minInWindow: 2, what: 'datadog' }),
      }));
    case 'heap-prof':
      return withTempDir('node --heap-prof --heap-prof-interval=524288 (one .heapprofile at exit)', (dir) => ({
        env,
        execArgv: ['--heap-prof', '--heap-prof-interval=524288', `--heap-prof-dir=${dir}`],
        check: (window) => evidence(filesIn(dir, /\.heapprofile$/), window, { what: 'heap-prof' }),
      }));
    default: {
      if (name.startsWith(VARIANT_PREFIX)) return allocscopeSpec(env, period, { ...options.allocscopeEnv, ...options.variants[name.slice(VARIANT_PREFIX.length)] });
      const peer = peerSpec(name, peers);
      if (peer.unavailable) return peer;
      if (name === 'jemalloc-prof') {
        return withTempDir(`${peer.describe}, prof_final into a temp dir`, (dir) => {
          const how = peer.spawn();
          return {
            env: cleanEnv({ ...how.env, MALLOC_CONF: `${how.env.MALLOC_CONF},prof_final:true,prof_prefix:${path.join(dir, 'jeprof')}` }),
            check: (window) => evidence(filesIn(dir, /^jeprof\..*\.heap$/), window, { what: 'jemalloc-prof' }),
          };
        });
      }
      return {
        describe: peer.describe,
        spawn() {
          const how = peer.spawn();
          return {
            ...how,
            env: cleanEnv(how.env ?? process.env),
            check: how.after ? () => heaptrackEvidence(how.after.outputBytes()) : undefined,
            cleanup: () => how.after?.cleanup(),
          };
        },
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The parent: servers, load generators and trials, also driven by bench/service-side-by-side.js.

/** resolveSpecs finds the peers and the spawn specs of the configurations; one whose peer is missing is logged and left out. */
function resolveSpecs(options, log) {
  const peers = findPeers({ jemalloc: options.jemalloc, heaptrack: options.heaptrack });
  log(formatPeers(peers));
  const specs = {};
  for (const name of options.configs) {
    const spec = configSpec(name, peers, options);
    if (spec.unavailable) log(`  skipping ${name}: ${spec.unavailable}`);
    else specs[name] = spec;
  }
  return { peers, specs, names: Object.keys(specs) };
}

/**
 * startServer spawns a workload's server as `how` (what a configuration's spawn() returned) says,
 * with the Node flags every configuration gets alike (--node-flags).
 */
function startServer(name, workload, how, { liveMib = 0, nodeFlags = [] }) {
  const command = [...(how.wrapper ?? []), process.execPath, ...nodeFlags, ...(how.execArgv ?? []), SERVER, workload, ...(how.serverArgs ?? []), '--live-mib', String(liveMib)];
  return spawnDriven(name, command, how.env, { quietStderr: how.quietStderr });
}

/** startClient spawns the load generator for the servers on `ports`: as fast as they answer, or `rate` requests/s each. */
function startClient(workload, ports, { warmupSeconds, seconds, rate }) {
  return spawnDriven('load generator', [process.execPath, CLIENT, workload, ports.join(','), String(warmupSeconds), String(seconds), ...(rate ? ['--rate', String(rate)] : [])], process.env);
}

/**
 * collectionBlockMs is the longest loop gap of the server that overlaps the first
 * COLLECTION_SPAN_MS of one of the collections (wall-clock ms). The server records gaps from
 * GAP_RECORD_MS on, so a collection that overlaps none blocked for less: it counts as GAP_RECORD_MS.
 */
function collectionBlockMs(gaps, collections) {
  let longest = GAP_RECORD_MS;
  for (const t of collections) {
    // The collection's time is Date.now(), whole milliseconds: 1 ms of slack on each side.
    for (const [start, end] of gaps) if (start <= t + COLLECTION_SPAN_MS + 1 && end >= t - 1) longest = Math.max(longest, end - start);
  }
  return longest;
}

async function runTrial(workload, spec, options) {
  const how = spec.spawn();
  let server;
  let client;
  try {
    server = startServer(`${workload} server`, workload, how, options);
    const { port } = await server.next('listening');
    client = startClient(workload, [port], options);
    await client.next('warm');
    server.send('measure');
    await server.next('measuring');
    const window = { startMs: Date.now() };
    client.send('go');
    const { servers: [load] } = await client.next('load', (options.seconds + 30) * 1000);
    server.send('report');
    const loop = await server.next('report');
    window.endMs = Date.now();
    await client.end();
    await server.end();
    const { event: _report, gaps, ...loopFigures } = loop;
    const proof = how.check?.(window);
    return { ...load, ...loopFigures, evidence: proof, collectionBlockMs: proof?.collections ? collectionBlockMs(gaps, proof.collections) : undefined };
  } finally {
    client?.kill();
    server?.kill();
    how.cleanup?.();
  }
}

/** summarizeEvidence gives the medians over trials of what a profiler wrote (see evidence()); undefined for no profiler. */
function summarizeEvidence(trialEvidence) {
  const evidences = trialEvidence.filter(Boolean);
  if (evidences.length === 0) return undefined;
  return {
    files: median(evidences.map((e) => e.files)),
    bytes: median(evidences.map((e) => e.bytes)),
    inWindow: evidences[0].collections === undefined ? undefined : summarize(evidences.map((e) => e.collections.length)),
    nativeSamples: evidences[0].nativeSamples === undefined ? undefined : median(evidences.map((e) => e.nativeSamples)),
  };
}

/** formatConfigNote describes a configuration and, for a profiler, what it wrote in each trial. */
function formatConfigNote(config, describe, e) {
  let note = `  ${config}: ${describe}`;
  if (e) {
    note += `; wrote ${fmt(e.files)} files, ${fmtBytes(e.bytes)} per trial (median)`;
    if (e.inWindow) note += `, ${fmt(e.inWindow.median)} collections in each measured window (min ${fmt(e.inWindow.min)})`;
    if (e.nativeSamples !== undefined) note += `, last native profile ${fmt(e.nativeSamples)} samples`;
  }
  return note;
}

/** ratioTo is the ratio of the medians of values and base, with its bootstrap CI. */
function ratioTo(values, base, seed) {
  return { ratio: ratio(median(values), median(base)), ci: bootstrapRatioCI(values, base, { seed }) };
}

function summarizeWorkload(workload, names, specs, results, rounds, seed) {
  const of = (config, field) => results[config].map((r) => r[field]);
  const base = (field) => of('baseline', field);
  const rows = names.map((config) => {
    const trials = results[config];
    return {
      config,
      describe: specs[config].describe,
      requestsPerSec: summarize(of(config, 'requestsPerSec')),
      rpsRatio: ratioTo(of(config, 'requestsPerSec'), base('requestsPerSec'), seed),
      pairedRatio: summarize(rounds.map((r) => r[config].requestsPerSec / r.baseline.requestsPerSec)),
      p50Ms: median(of(config, 'p50Ms')),
      p99Ms: summarize(of(config, 'p99Ms')),
      p99Ratio: ratioTo(of(config, 'p99Ms'), base('p99Ms'), seed),
      delayP99Ms: median(of(config, 'delayP99Ms')),
      delayMaxMs: summarize(of(config, 'delayMaxMs')),
      delayExcessMs: { median: median(of(config, 'delayMaxMs')) - median(base('delayMaxMs')), ci: bootstrapDiffCI(of(config, 'delayMaxMs'), base('delayMaxMs'), { seed }) },
      rssMiB: median(trials.map((r) => r.rssBytes / 2 ** 20)),
      cpuUsPerRequest: summarize(of(config, 'cpuUsPerRequest')),
      cpuRatio: ratioTo(of(config, 'cpuUsPerRequest'), base('cpuUsPerRequest'), seed),
      collectionBlockMs: trials[0].collectionBlockMs === undefined ? undefined : summarize(of(config, 'collectionBlockMs')),
      evidence: summarizeEvidence(trials.map((r) => r.evidence)),
    };
  });
  return { workload, rounds: rounds.length, rows, trials: results };
}

async function runWorkload(workload, names, specs, options, rng, log) {
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const rounds = [];
  for (let round = 1; round <= options.rounds; round++) {
    const order = shuffled(names, rng);
    const row = {};
    for (const config of order) {
      row[config] = await runTrial(workload, specs[config], options);
      results[config].push(row[config]);
    }
    rounds.push(row);
    log(`  ${workload} round ${round}/${options.rounds}: ${order.map((c) => `${c} ${fmt(row[c].requestsPerSec)} req/s p99 ${fmt(row[c].p99Ms, 2)} ms loop max ${fmt(row[c].delayMaxMs, 1)} ms`).join('; ')}`);
  }
  return summarizeWorkload(workload, names, specs, results, rounds, options.seed);
}

async function runBenchmark(options, log = console.log) {
  const { peers, specs, names } = resolveSpecs(options, log);
  const trialSeconds = options.warmupSeconds + options.seconds + TRIAL_OVERHEAD_SECONDS;
  const trials = options.rounds * options.workloads.length * names.length;
  log(`service-load: ${options.workloads.join(', ')} x ${options.rounds} rounds x ${names.length} configurations (${names.join(', ')}), ${CONNECTIONS} connections, ${options.warmupSeconds} s warm-up + ${options.seconds} s measured${describeNodeFlags(options.nodeFlags)}, collections every ${options.period} s, shuffle seed ${options.seed}; ${trials} trials, about ${fmt((trials * trialSeconds) / 60, 0)} min`);
  const rng = mulberry32(options.seed);
  const workloads = [];
  for (const workload of options.workloads) workloads.push(await runWorkload(workload, names, specs, options, rng, log));
  return { benchmark: 'service-load', peers, connections: CONNECTIONS, seconds: options.seconds, warmupSeconds: options.warmupSeconds, periodSeconds: options.period, workloads };
}

function formatWorkload(summary, periodSeconds) {
  const ms = (v, d = 2) => fmt(v, d);
  const withCI = (r) => `${fmtRatio(r.ratio)} [${fmtRatio(r.ci.low)}..${fmtRatio(r.ci.high)}]`;
  const diffCI = (d) => `${d.median >= 0 ? '+' : ''}${ms(d.median, 1)} [${ms(d.ci.low, 1)}..${ms(d.ci.high, 1)}]`;
  const by = Object.fromEntries(summary.rows.map((r) => [r.config, r]));
  const isBase = (r) => r.config === 'baseline';
  const lines = [
    `service-load, ${summary.workload}: ${summary.rounds} rounds; requests/s (higher is better)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'median req/s', align: 'right' }, { title: 'min', align: 'right' }, { title: 'max', align: 'right' },
        { title: 'IQR', align: 'right' }, { title: 'ratio [95% CI]', align: 'right' }, { title: 'paired median [min..max]', align: 'right' }],
      summary.rows.map((r) => [r.config, fmt(r.requestsPerSec.median), fmt(r.requestsPerSec.min), fmt(r.requestsPerSec.max), fmt(r.requestsPerSec.iqr),
        isBase(r) ? '1.000' : withCI(r.rpsRatio), `${fmtRatio(r.pairedRatio.median)} [${fmtRatio(r.pairedRatio.min)}..${fmtRatio(r.pairedRatio.max)}]`]),
    ),
    '',
    `service-load, ${summary.workload}: latency and the server's event-loop delay (medians over trials; lower is better)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'p50 ms', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'p99 min-max', align: 'right' },
        { title: 'p99 ratio [95% CI]', align: 'right' }, { title: 'loop p99 ms', align: 'right' }, { title: 'loop max ms', align: 'right' },
        { title: 'loop max, raw', align: 'right' }, { title: 'max - baseline [95% CI]', align: 'right' }, { title: 'RSS MiB', align: 'right' }],
      summary.rows.map((r) => [r.config, ms(r.p50Ms), ms(r.p99Ms.median), `${ms(r.p99Ms.min)}-${ms(r.p99Ms.max)}`, isBase(r) ? '1.000' : withCI(r.p99Ratio),
        ms(r.delayP99Ms, 1), ms(r.delayMaxMs.median, 1), ms(r.delayMaxMs.max, 1), isBase(r) ? '' : diffCI(r.delayExcessMs), fmt(r.rssMiB, 0)]),
    ),
    '',
    `service-load, ${summary.workload}: the server process's CPU time per request, all its threads (lower is better)`,
    formatTable(
      [{ title: 'config', align: 'left' }, { title: 'median CPU us/req', align: 'right' }, { title: 'min', align: 'right' }, { title: 'max', align: 'right' },
        { title: 'ratio [95% CI]', align: 'right' }],
      summary.rows.map((r) => [r.config, fmt(r.cpuUsPerRequest.median, 1), fmt(r.cpuUsPerRequest.min, 1), fmt(r.cpuUsPerRequest.max, 1), isBase(r) ? '1.000' : withCI(r.cpuRatio)]),
    ),
    '',
  ];
  for (const r of summary.rows) lines.push(formatConfigNote(r.config, r.describe, r.evidence));
  lines.push('');
  if (by['baseline-2']) lines.push(`noise floor (A/A): baseline-2 / baseline req/s ${withCI(by['baseline-2'].rpsRatio)}, p99 ${withCI(by['baseline-2'].p99Ratio)}, loop max ${diffCI(by['baseline-2'].delayExcessMs)} ms`);
  const a = by.allocscope;
  if (a) {
    lines.push(`allocscope / baseline: req/s ${withCI(a.rpsRatio)} (target >= ${TARGET_RATIO}), p99 latency ${withCI(a.p99Ratio)} (target <= ${fmtRatio(1 / TARGET_RATIO)}), CPU per request ${withCI(a.cpuRatio)}; reported, not asserted`);
    lines.push(`longest event-loop block caused by a collection (every ${periodSeconds} s): ${diffCI(a.delayExcessMs)} ms over baseline's max delay (medians of per-trial max: ${ms(a.delayMaxMs.median, 1)} vs ${ms(by.baseline.delayMaxMs.median, 1)} ms); allocscope's raw max over all trials ${ms(a.delayMaxMs.max, 1)} ms`);
  }
  for (const r of summary.rows) {
    if (['baseline', 'baseline-2', 'allocscope'].includes(r.config)) continue;
    lines.push(`${r.config} / baseline: req/s ${withCI(r.rpsRatio)}, p99 ${withCI(r.p99Ratio)}, loop max ${diffCI(r.delayExcessMs)} ms`);
  }
  for (const r of summary.rows.filter((row) => row.collectionBlockMs)) {
    lines.push(`${r.config}: longest loop gap overlapping the first ${COLLECTION_SPAN_MS} ms of a collection, per trial: median ${ms(r.collectionBlockMs.median, 1)} ms, max ${ms(r.collectionBlockMs.max, 1)} ms (gaps under ${GAP_RECORD_MS} ms count as ${GAP_RECORD_MS})`);
  }
  return lines.join('\n');
}

/** SERVICE_FLAGS are the flags of service-load.js that bench/service-side-by-side.js shares. */
const SERVICE_FLAGS = {
  ...Object.fromEntries(['seconds', 'warmup', 'period', 'workloads', 'only', 'skip', 'jemalloc', 'heaptrack', 'allocscope-env', 'live-mib', 'node-flags'].map((flag) => [flag, { type: 'string' }])),
  variant: { type: 'string', multiple: true },
};

/**
 * parseServiceArgs parses the shared flags, and `extra` ones that `more(values)` turns into more
 * options. defaults: { seconds: [full, quick], warmup: [full, quick], liveMib, configs (without
 * --only) }. A bad value ends the run with its message and exit code 2, as a bad flag does.
 */
function parseServiceArgs(argv, { usage, defaults, extra = {}, more = () => ({}) }) {
  const values = parseBenchArgs(argv, { usage, defaultRounds: 5, quickRounds: 1, extra: { ...SERVICE_FLAGS, ...extra } });
  try {
    const [seconds, warmupSeconds] = ['seconds', 'warmup'].map((flag) => parsePositiveInt(flag, values[flag], defaults[flag][values.quick ? 1 : 0]));
    const period = parsePositiveInt('period', values.period, Math.max(1, Math.min(MAX_PERIOD_SECONDS, Math.floor(seconds / 2))));
    if (seconds < 2 * period) throw new Error(`--seconds ${seconds} cannot hold two collections every ${period} s: make --seconds at least ${2 * period}`);
    const workloads = parseList(values.workloads, Object.keys(WORKLOADS));
    for (const w of workloads) if (!WORKLOADS[w]) throw new Error(`--workloads: unknown workload ${w} (known: ${Object.keys(WORKLOADS).join(', ')})`);
    const only = parseList(values.only);
    for (const name of only) if (!CONFIG_NAMES.includes(name)) throw new Error(`--only: unknown configuration ${name} (known: ${CONFIG_NAMES.join(', ')})`);
    const skip = parseSkip(values.skip, CONFIG_NAMES);
    if (skip.includes('baseline')) throw new Error('baseline cannot be skipped');
    const configs = CONFIG_NAMES.filter((n) => !skip.includes(n) && (only.length === 0 ? defaults.configs.includes(n) : only.includes(n) || n === 'baseline'));
    const liveMib = values['live-mib'] === '0' ? 0 : parsePositiveInt('live-mib', values['live-mib'], defaults.liveMib);
    const variants = parseVariants(values.variant);
    configs.push(...Object.keys(variants).map((name) => VARIANT_PREFIX + name));
    return {
      json: values.json,
      options: { rounds: values.rounds, seed: values.seed, quick: values.quick, seconds, warmupSeconds, period, workloads, configs, liveMib,
        allocscopeEnv: parseAllocscopeEnv(values['allocscope-env']), nodeFlags: parseNodeFlags(values['node-flags']), variants, jemalloc: values.jemalloc, heaptrack: values.heaptrack, ...more(values) },
    };
  } catch (error) {
    process.stderr.write(`${error.message} (see --help)\n`);
    process.exit(2);
  }
}

async function main() {
  const { json, options } = parseServiceArgs(process.argv.slice(2), {
    usage: USAGE,
    defaults: { seconds: [DEFAULT_SECONDS, QUICK_SECONDS], warmup: [WARMUP_SECONDS, QUICK_WARMUP_SECONDS], liveMib: 0, configs: CONFIG_NAMES },
  });
  const run = beginRun();
  const summary = await runBenchmark(options);
  for (const workload of summary.workloads) console.log(`\n${formatWorkload(workload, summary.periodSeconds)}`);
  endRun(run);
  if (json) writeJson(json, { environment: run.env, seed: options.seed, summary });
}

module.exports = {
  runBenchmark, formatWorkload, CONFIG_NAMES, parseServiceArgs, parseVariants, describeNodeFlags, resolveSpecs, startServer, startClient, summarizeEvidence, formatConfigNote,
};

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack ?? error);
    process.exit(1);
  });
}
