// The native-memory profilers allocscope's native profiler is compared with: jemalloc's sampling
// heap profiler (LD_PRELOAD) and heaptrack (a wrapper command). Finds them and says how a trial
// process runs under each.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** Same mean sampling interval as allocscope's default 512 KiB: 2^19 bytes. */
const JEMALLOC_LG_PROF_SAMPLE = 19;
const JEMALLOC_PROF_CONF = `prof:true,lg_prof_sample:${JEMALLOC_LG_PROF_SAMPLE}`;

const JEMALLOC_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];

/**
 * findJemalloc returns { path, version, prof } for the given libjemalloc.so.2 (or the first one
 * found), or { missing: reason }. prof tells whether it was built with --enable-prof, read from
 * its own stats_print output in a throwaway `node -e 0`.
 */
function findJemalloc(explicit) {
  const file = explicit ?? JEMALLOC_CANDIDATES.find((f) => fs.existsSync(f));
  if (file === undefined || !fs.existsSync(file)) {
    return { missing: explicit ? `${explicit} does not exist` : 'libjemalloc.so.2 not found (Debian/Ubuntu: apt-get install libjemalloc2)' };
  }
  const res = spawnSync(process.execPath, ['-e', '0'], {
    encoding: 'utf8',
    env: { ...process.env, LD_PRELOAD: file, MALLOC_CONF: 'stats_print:true' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  const version = /Version: "([^"]+)"/.exec(out)?.[1];
  if (res.status !== 0 || version === undefined) return { missing: `${file} did not load under LD_PRELOAD (exit ${res.status})` };
  return { path: file, version, prof: /config\.prof: true/.test(out) };
}

/** findHeaptrack returns { path, version } of the heaptrack launcher, or { missing: reason }. */
function findHeaptrack(explicit) {
  let file = explicit;
  if (file === undefined) {
    try {
      file = execFileSync('sh', ['-c', 'command -v heaptrack'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return { missing: 'heaptrack not on PATH (Debian/Ubuntu: apt-get install heaptrack)' };
    }
  }
  try {
    const version = execFileSync(file, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return { path: file, version: version.replace(/^heaptrack\s*/, '') };
  } catch (error) {
    return { missing: `${file} --version failed: ${error.message}` };
  }
}

/**
 * peers finds both tools once. Returns { jemalloc, heaptrack } as above; a jemalloc without
 * profiling support is reported missing for the profiling configuration.
 */
function findPeers({ jemalloc, heaptrack } = {}) {
  return { jemalloc: findJemalloc(jemalloc), heaptrack: findHeaptrack(heaptrack) };
}

/** jemallocEnv is the environment of a trial under jemalloc, with or without its profiler. */
function jemallocEnv(found, { prof }) {
  const env = { ...process.env, LD_PRELOAD: found.path };
  if (prof) env.MALLOC_CONF = JEMALLOC_PROF_CONF;
  else delete env.MALLOC_CONF;
  return env;
}

/**
 * heaptrackRun returns { wrapper, cleanup, outputBytes } for one trial under heaptrack: its data
 * file goes to a fresh temporary directory, which cleanup() removes (after outputBytes() has
 * measured what heaptrack wrote).
 */
function heaptrackRun(found) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-bench-heaptrack-'));
  return {
    wrapper: [found.path, '-o', path.join(dir, 'trial')],
    outputBytes() {
      let total = 0;
      for (const f of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, f)).size;
      return total;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function formatPeers(peers) {
  const j = peers.jemalloc;
  const h = peers.heaptrack;
  return [
    `jemalloc: ${j.missing ?? `${j.version} (${j.path}), profiling ${j.prof ? `built in; MALLOC_CONF=${JEMALLOC_PROF_CONF}` : 'NOT built in'}`}`,
    `heaptrack: ${h.missing ?? `${h.version} (${h.path})`}`,
  ].join('\n');
}

/**
 * peerSpec describes how a trial runs under one of the peers, the same in every native benchmark:
 * `jemalloc` (the allocator alone), `jemalloc-prof` (its sampling profiler) or `heaptrack`.
 * Returns { unavailable } when the peer is missing; throws for an unknown name.
 */
function peerSpec(name, peers) {
  switch (name) {
    case 'jemalloc':
      if (peers.jemalloc.missing) return { unavailable: peers.jemalloc.missing };
      return { describe: `LD_PRELOAD jemalloc ${peers.jemalloc.version.split('-')[0]}, no profiling`, spawn: () => ({ env: jemallocEnv(peers.jemalloc, { prof: false }) }) };
    case 'jemalloc-prof':
      if (peers.jemalloc.missing) return { unavailable: peers.jemalloc.missing };
      if (!peers.jemalloc.prof) return { unavailable: `${peers.jemalloc.path} was built without --enable-prof` };
      return { describe: 'jemalloc prof:true,lg_prof_sample:19 (512 KiB)', spawn: () => ({ env: jemallocEnv(peers.jemalloc, { prof: true }) }) };
    case 'heaptrack':
      if (peers.heaptrack.missing) return { unavailable: peers.heaptrack.missing };
      return {
        describe: `heaptrack ${peers.heaptrack.version} (every call recorded)`,
        spawn: () => {
          const run = heaptrackRun(peers.heaptrack);
          return { wrapper: run.wrapper, quietStderr: true, after: run };
        },
      };
    default:
      throw new Error(`unknown configuration ${name}`);
  }
}

module.exports = { findPeers, jemallocEnv, heaptrackRun, formatPeers, peerSpec, JEMALLOC_PROF_CONF };
