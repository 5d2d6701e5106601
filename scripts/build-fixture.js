// Builds a fixture's native addon (tests' and benchmarks') with npm's bundled node-gyp, only when an output is
// missing or older than a source, under a lock so that test files running in parallel never
// run node-gyp in the same directory at the same time.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const LOCK_STALE_MS = 5 * 60 * 1000;

/** staleReason says why `outputs` must be rebuilt from `sources` (missing or older), or null. */
function staleReason(dir, sources, outputs) {
  const newestSource = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  for (const out of outputs) {
    let st;
    try { st = fs.statSync(out); } catch { return `${path.relative(dir, out)} missing`; }
    if (st.mtimeMs < newestSource) return `${path.relative(dir, out)} older than sources`;
  }
  return null;
}

// npm's own node-gyp (works offline), else the one npm names when this runs from an npm script.
function findNodeGyp(name) {
  const npmDirs = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm'), // Windows layout
  ];
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: npmDirs });
  } catch {}
  const fromEnv = process.env.npm_config_node_gyp;
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  throw new Error(`${name}: cannot find node-gyp (neither npm's bundled copy nor $npm_config_node_gyp)`);
}

// Use the running Node's own headers when it ships them (distribution packages, official
// tarballs), so node-gyp needs no download. An explicit npm_config_nodedir wins.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const root = path.resolve(path.dirname(process.execPath), '..');
  const inc = path.join(root, 'include', 'node');
  if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi'))) {
    return [`--nodedir=${root}`];
  }
  return [];
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** withLock runs fn while holding a lock directory in the OS temp dir named after `key`. */
function withLock(key, fn) {
  const lock = path.join(os.tmpdir(), `allocscope-fixture-${crypto.createHash('sha1').update(key).digest('hex').slice(0, 12)}.lock`);
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > LOCK_STALE_MS) fs.rmSync(lock, { recursive: true, force: true });
      } catch {}
      sleep(100);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * buildFixture runs `node-gyp rebuild` in `dir` when an output is missing or older than a
 * source, and returns `result` (usually the addon's path). `name` prefixes the one line it
 * logs (what it did) and its errors. Sources and outputs are absolute paths.
 */
function buildFixture({ name, dir, sources, outputs, result = outputs[0], log = (line) => process.stderr.write(`${line}\n`) }) {
  const shown = path.relative(process.cwd(), result) || result;
  if (!staleReason(dir, sources, outputs)) {
    log(`${name}: up to date (${shown})`);
    return result;
  }
  return withLock(dir, () => {
    const reason = staleReason(dir, sources, outputs); // another process may have built it while we waited
    if (!reason) {
      log(`${name}: built by another process (${shown})`);
      return result;
    }
    const nodeGyp = findNodeGyp(name);
    const started = Date.now();
    const res = spawnSync(process.execPath, [nodeGyp, 'rebuild', '-C', dir, ...nodedirArgs()], {
      encoding: 'utf8',
      env: { ...process.env, JOBS: process.env.JOBS || 'max' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.error || res.status !== 0) {
      const out = `${res.stdout || ''}${res.stderr || ''}`;
      throw new Error(`${name}: node-gyp rebuild failed (${res.error ? res.error.message : `exit ${res.status}`})\n${out}`);
    }
    const missing = staleReason(dir, sources, outputs);
    if (missing) throw new Error(`${name}: node-gyp succeeded but ${missing}`);
    log(`${name}: built (${reason}) with ${nodeGyp} in ${((Date.now() - started) / 1000).toFixed(1)}s -> ${shown}`);
    return result;
  });
}

/** runAsScript is the `node build.js` entry point: build, print the one line, exit 1 on failure. */
function runAsScript(build) {
  try {
    build({ log: (line) => console.log(line) });
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}

module.exports = { buildFixture, runAsScript, staleReason, findNodeGyp, nodedirArgs };
