// Starts test/fixtures/steady-service.js, with or without allocscope's continuous profiling, and collects its report lines (the soak test and bench/soak.js).
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const SERVICE = path.join(ROOT, 'test', 'fixtures', 'steady-service.js');

/**
 * startSteadyService runs the service in a fresh Node with --expose-gc (each report follows a
 * full collection). With `profiling` ({ uploadDir, periodSeconds, keepFiles, register? }) it is
 * started as production starts it, `node -r allocscope/register` configured by ALLOCSCOPE_*
 * (`register` defaults to this checkout's). It runs in the repository so that allocscope, loaded
 * before the main script, finds prom-client there, where it registers its delivery metrics.
 * Returns { child, ready, exited, reports, stderr() }: `ready` resolves to the ready line,
 * `exited` to { status, signal }; `onReport(line)` is called for each report as it arrives.
 */
function startSteadyService({ profiling, args = [], onReport = () => undefined }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ALLOCSCOPE_')));
  const execArgv = ['--expose-gc'];
  if (profiling !== undefined) {
    Object.assign(env, {
      ALLOCSCOPE_UPLOAD: profiling.uploadDir,
      ALLOCSCOPE_PERIOD: String(profiling.periodSeconds),
      ALLOCSCOPE_KEEP_FILES: String(profiling.keepFiles),
      ALLOCSCOPE_SERVICE: 'steady-service',
      ALLOCSCOPE_SPOOL: '0',
    });
    execArgv.push('-r', profiling.register ?? path.join(ROOT, 'dist', 'register.js'));
  }
  const child = spawn(process.execPath, [...execArgv, SERVICE, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const reports = [];
  let stderr = '';
  let pending = '';
  let resolveReady;
  const ready = new Promise((resolve, reject) => {
    resolveReady = resolve;
    child.on('exit', () => reject(new Error(`the steady service exited before it was ready: ${stderr}`)));
  });
  ready.catch(() => undefined);
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    pending += chunk;
    for (let newline; (newline = pending.indexOf('\n')) !== -1; pending = pending.slice(newline + 1)) {
      const line = JSON.parse(pending.slice(0, newline));
      if (line.ready) {
        resolveReady(line);
        continue;
      }
      reports.push(line);
      onReport(line);
    }
  });
  const exited = new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal })));
  return { child, ready, exited, reports, stderr: () => stderr };
}

module.exports = { startSteadyService };
