// What the benchmarks ran on and with: machine, Node, allocscope and @datadog/pprof versions.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/**
 * allocscopeRoot is the allocscope package the benchmarks load: this checkout, or the built copy
 * named by $ALLOCSCOPE_BENCH_ROOT (e.g. a `git archive` of one commit built apart, so that a
 * rebuild of this checkout during a long run cannot change or remove what is measured).
 */
function allocscopeRoot() {
  return process.env.ALLOCSCOPE_BENCH_ROOT ? path.resolve(process.env.ALLOCSCOPE_BENCH_ROOT) : ROOT;
}

function packageVersion(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function cpuModel() {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** newestMtime returns the latest modification time of the files under dir, or undefined. */
function newestMtime(dir) {
  let newest;
  const walk = (d) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const t = fs.statSync(full).mtime;
        if (newest === undefined || t > newest) newest = t;
      }
    }
  };
  try {
    walk(dir);
  } catch {
    return undefined;
  }
  return newest;
}

function git(args, cwd = ROOT) {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd();
  } catch {
    return undefined;
  }
}

/**
 * build says which allocscope code ran: the git commit, the files of src/ and native/ that differ
 * from it (uncommitted changes are measured too, as built), and when dist/ and the addon were built.
 */
function build() {
  const root = allocscopeRoot();
  let commit;
  let status;
  if (root === ROOT) {
    commit = git(['rev-parse', '--short', 'HEAD']);
    status = git(['status', '--porcelain', '--', 'src', 'native']);
  } else {
    // A copy: its commit is in .git-commit (written when it was exported), else it is a git checkout.
    try {
      commit = fs.readFileSync(path.join(root, '.git-commit'), 'utf8').trim();
    } catch {
      commit = git(['rev-parse', '--short', 'HEAD'], root);
      status = git(['status', '--porcelain', '--', 'src', 'native'], root);
    }
  }
  const dist = newestMtime(path.join(root, 'dist'));
  const addon = newestMtime(path.join(root, 'build', 'Release'));
  return {
    root: root === ROOT ? undefined : root,
    commit: commit ?? 'unknown',
    uncommitted: status === undefined ? [] : status.split('\n').filter(Boolean).map((l) => l.slice(3)),
    distBuilt: dist?.toISOString() ?? 'missing',
    addonBuilt: addon?.toISOString() ?? 'missing',
  };
}

/** environment describes the machine and versions, for the head of every report. */
function environment() {
  return {
    cpus: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    cpuModel: cpuModel(),
    memoryGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    allocscope: packageVersion(path.join(ROOT, 'package.json')),
    datadogPprof: packageVersion(path.join(ROOT, 'node_modules', '@datadog', 'pprof', 'package.json')),
    build: build(),
  };
}

function formatEnvironment(env) {
  return [
    `machine: ${env.cpus} CPUs, ${env.cpuModel}, ${env.memoryGiB} GiB, ${env.platform}`,
    `node ${env.node} (V8 ${env.v8}), allocscope ${env.allocscope}, @datadog/pprof ${env.datadogPprof}`,
    `allocscope build${env.build.root ? ` (from ${env.build.root})` : ''}: git ${env.build.commit}, ${env.build.uncommitted.length ? `uncommitted changes in ${env.build.uncommitted.join(', ')}` : 'src/ and native/ as committed'}; dist/ built ${env.build.distBuilt}, addon built ${env.build.addonBuilt}`,
  ].join('\n');
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

/** beginRun prints the machine, the build and the load before a benchmark; pass what it returns to endRun. */
function beginRun() {
  const env = environment();
  console.log(formatEnvironment(env));
  console.log(`load average at start: ${loadAverage()}`);
  return { env, started: Date.now() };
}

/** endRun prints the time taken and the load, and warns when allocscope was rebuilt during the run. */
function endRun({ env, started }) {
  console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end: ${loadAverage()}`);
  const after = environment().build;
  if (after.addonBuilt !== env.build.addonBuilt || after.distBuilt !== env.build.distBuilt) {
    console.log(`WARNING: allocscope was rebuilt during the run (addon ${env.build.addonBuilt} -> ${after.addonBuilt}, dist/ ${env.build.distBuilt} -> ${after.distBuilt}): trials mix builds`);
  }
}

module.exports = { ROOT, allocscopeRoot, environment, formatEnvironment, beginRun, endRun };
