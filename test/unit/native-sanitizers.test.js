// Runs the native unit tests (test/native/run.sh: ring buffer, address table, sampler, aggregator,
// sample recorder, symbolizer) built with AddressSanitizer+UBSan and with ThreadSanitizer; every
// run must end with "N passed, 0 failed" and run.sh must exit 0. Then builds the whole addon with
// ASan+UBSan and runs integration tests against it (test/native/run-addon-asan.sh).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { missingTool } = require('../support/tools');

const ROOT = path.join(__dirname, '..', '..');
const TIMEOUT_MS = 10 * 60 * 1000;
// run.sh all: 9 tests under ASan and 7 under TSan, plus the symbolizer test when it exists.
const EXPECTED_RUNS = 16 + (fs.existsSync(path.join(ROOT, 'test/native/run-symbolizer-test.sh')) ? 1 : 0);

/**
 * runScript runs `bash script ...args` in its own process group, so that on timeout the
 * compilers, tests and Node processes it started are killed along with it.
 */
function runScript(script, args) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { cwd: ROOT, detached: true });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, timedOut, output });
    });
  });
}

/**
 * failureDiagnostics returns the YAML block under each failing test of a TAP stream (its error
 * message and the child's output), at most 60 lines each: the tail of the stream rarely has it.
 */
function failureDiagnostics(tap) {
  const lines = tap.split('\n');
  const blocks = [];
  lines.forEach((line, at) => {
    if (!/^\s*not ok /.test(line)) return;
    const end = lines.findIndex((next, i) => i > at && /^\s*\.\.\.$/.test(next));
    blocks.push(lines.slice(at, end < 0 ? at + 60 : Math.min(end + 1, at + 60)).join('\n'));
  });
  return blocks.join('\n');
}

/** cannotBuild skips the test (true) where sanitized native code cannot be built and run. */
function cannotBuild(t) {
  if (process.platform !== 'linux') {
    t.skip('the native profiler and its tests are Linux-only');
    return true;
  }
  return missingTool(t, 'g++', ['--version']);
}

test(
  'native unit tests pass under ASan/UBSan and TSan (test/native/run.sh)',
  { timeout: TIMEOUT_MS + 30_000 },
  async (t) => {
    if (cannotBuild(t)) return;

    const { status, signal, timedOut, output } = await runScript('test/native/run.sh', ['all']);
    // What to show when something fails: the failing tests, their diagnostics, the tail.
    const failures = output
      .split('\n')
      .filter((line) => /^not ok |^#   |FAILED|build failed|exit status|timed out|ERROR|Sanitizer/.test(line))
      .join('\n');
    const context = `${failures}\n--- last lines of run.sh output ---\n${output.split('\n').slice(-40).join('\n')}`;

    assert.equal(timedOut, false, `run.sh took longer than ${TIMEOUT_MS / 1000}s\n${context}`);
    assert.equal(signal, null, `run.sh was killed by ${signal}\n${context}`);
    const summaries = [...output.matchAll(/^(\d+) passed, (\d+) failed$/gm)].map((m) => ({
      passed: Number(m[1]),
      failed: Number(m[2]),
    }));
    assert.equal(
      summaries.length,
      EXPECTED_RUNS,
      `expected ${EXPECTED_RUNS} "N passed, N failed" summaries (a test that crashed prints none)\n${context}`,
    );
    for (const summary of summaries) {
      assert.equal(summary.failed, 0, `a native test run reported failures\n${context}`);
      assert.ok(summary.passed > 0, `a native test run passed nothing\n${context}`);
    }
    assert.equal(status, 0, `run.sh exited with ${status}\n${context}`);
  },
);

test(
  'integration tests pass against the addon built with ASan+UBSan (test/native/run-addon-asan.sh)',
  { timeout: TIMEOUT_MS + 30_000 },
  async (t) => {
    if (cannotBuild(t)) return;

    const { status, signal, timedOut, output } = await runScript('test/native/run-addon-asan.sh', []);
    const context = output.split('\n').filter((line) => /not ok|ERROR: |runtime error|Sanitizer|^# (tests|pass|fail)/.test(line)).join('\n') +
      `\n--- what the failing tests said ---\n${failureDiagnostics(output)}` +
      `\n--- last lines ---\n${output.split('\n').slice(-40).join('\n')}`;
    assert.equal(timedOut, false, `run-addon-asan.sh took longer than ${TIMEOUT_MS / 1000}s\n${context}`);
    assert.equal(signal, null, `run-addon-asan.sh was killed by ${signal}\n${context}`);
    assert.match(output, /^# pass [1-9]\d*$/m, `no integration test passed\n${context}`);
    assert.match(output, /^# fail 0$/m, context);
    assert.equal(status, 0, `run-addon-asan.sh exited with ${status}\n${context}`);
  },
);
