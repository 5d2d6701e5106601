// Test helpers: run the built CLI, make temporary directories, and read profiles the way users do.
'use strict';
const assert = require('node:assert/strict');
const { execFile, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { decode } = require('../../dist/index.js');
const { topTable, sampleIndexOf } = require('../../dist/report/top.js');

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');

/** tempDir makes a fresh directory that is removed when the test process exits. */
function tempDir(prefix = 'allocscope-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** runCli runs `allocscope ...args` to completion and returns { status, signal, stdout, stderr }. */
function runCli(args, options = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, ...options });
}

/**
 * runCliAsync is runCli without blocking the test, so that several can run at once; past
 * options.timeout it kills the CLI and sets `error`, as runCli does.
 */
function runCliAsync(args, { timeout = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout }, (error, stdout, stderr) => {
      const status = typeof error?.code === 'number' ? error.code : error ? null : 0;
      resolve({ status, signal: error?.signal ?? null, stdout, stderr, error: error?.killed ? new Error(`killed after ${timeout} ms`) : undefined });
    });
  });
}

/** startCli starts `allocscope ...args` and resolves to its child process once its stdout says `ready`. */
function startCli(args, options = {}) {
  return startProcess(process.execPath, [CLI, ...args], options);
}

/**
 * startProcess starts `command ...args` and resolves to its child process once its stdout so far
 * passes isReady (by default: says `ready`); the child has `stdoutText` and `stderrText` so far,
 * and `exited`, which resolves to { status, signal } once it has exited and all its output is in.
 */
function startProcess(command, args, options = {}, isReady = (stdout) => stdout.includes('ready')) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdoutText = '';
  child.stderrText = '';
  child.stderr.on('data', (chunk) => (child.stderrText += chunk));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      child.stdoutText += chunk;
      if (isReady(child.stdoutText)) resolve(child);
    });
    child.on('exit', (status) => reject(new Error(`exited ${status} before ready: ${child.stdoutText}${child.stderrText}`)));
  });
  // 'close', not 'exit': it resolves once all of the output is in.
  child.exited = new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal })));
  return ready;
}

const VIEW_URL = /at (http:\/\/127\.0\.0\.1:\d+\/)/;

/**
 * startView runs `allocscope view TARGET --port 0` and resolves once it prints its URL to
 * { url, stderr(), stop() }; stop sends SIGINT and resolves to its exit { status, signal }.
 */
async function startView(target) {
  const child = await startProcess(process.execPath, [CLI, 'view', target, '--port', '0'], {}, (stdout) => VIEW_URL.test(stdout));
  const url = VIEW_URL.exec(child.stdoutText)[1];
  return { url, stderr: () => child.stderrText, stop: () => (child.kill('SIGINT'), child.exited) };
}

/**
 * runLeakAndChurn runs test/fixtures/leak-and-churn.js under `allocscope run --out dir ...runArgs`
 * twice, exiting from the main thread and from a worker, so that dir holds main-thread and worker
 * profiles, heap and native. Throws with the CLI's stderr if a run fails.
 */
function runLeakAndChurn(dir, runArgs = []) {
  const leak = path.join(FIXTURES, 'leak-and-churn.js');
  for (const mode of ['exit', 'worker']) {
    const run = runCli(['run', '--out', dir, ...runArgs, '--', process.execPath, leak, mode]);
    if (run.status !== 0) throw new Error(`allocscope run of leak-and-churn.js ${mode} exited ${run.status}: ${run.stderr}`);
  }
}

/** profilesIn lists the heap profiles in dir, sorted by name (that is, by time). */
function profilesIn(dir) {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.heap.pb.gz')).sort().map((name) => path.join(dir, name));
}

/** sharesOf returns { functionName: share of the total } of a sample type, by `flat` or `cum` value. */
function sharesOf(profile, sampleType, by) {
  const table = topTable(profile, sampleIndexOf(profile, sampleType), by);
  const result = {};
  for (const row of table.rows) result[row.name] = table.total === 0 ? 0 : row[by] / table.total;
  return { shares: result, total: table.total };
}

function readProfile(file) {
  return decode(fs.readFileSync(file));
}

/** assertOneLineError checks the exit code and that stderr is exactly one `allocscope: ...` line. */
function assertOneLineError(result, status, pattern) {
  assert.equal(result.status, status, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

module.exports = { ROOT, CLI, FIXTURES, tempDir, runCli, runCliAsync, startCli, startProcess, startView, runLeakAndChurn, profilesIn, sharesOf, readProfile, assertOneLineError };
