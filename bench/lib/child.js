// Child-process trials: run a benchmark file in a fresh Node process and read back its one JSON result.
'use strict';
const { spawn } = require('node:child_process');

const MARKER = '@@allocscope-bench-result ';

/** reportResult is called by a child: prints its result on one marked stdout line. */
function reportResult(result) {
  process.stdout.write(`${MARKER}${JSON.stringify(result)}\n`);
}

/** parseResult returns what reportResult printed on this stdout line, or undefined for any other line. */
function parseResult(line) {
  return line.startsWith(MARKER) ? JSON.parse(line.slice(MARKER.length)) : undefined;
}

/**
 * runChild runs `node [execArgv] script [args]` in a fresh process and resolves to the object
 * the child passed to reportResult. Its other output is forwarded (stdout lines to our stdout
 * when `echo` is true). Rejects when the child fails or reports nothing. `wrapper` is a command
 * that runs Node, e.g. ['heaptrack', '-o', file]: it is spawned with Node's command line appended.
 * `quietStderr` keeps the child's stderr (a wrapper's chatter) out of ours unless the child fails.
 */
function runChild(script, args, { execArgv = [], echo = false, env = process.env, wrapper = [], quietStderr = false } = {}) {
  return new Promise((resolve, reject) => {
    const command = [...wrapper, process.execPath, ...execArgv, script, ...args];
    const child = spawn(command[0], command.slice(1), {
      stdio: ['ignore', 'pipe', quietStderr ? 'pipe' : 'inherit'],
      env,
    });
    let stderr = '';
    if (quietStderr) {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        stderr = (stderr + chunk).slice(-16384);
      });
    }
    let buffered = '';
    let result;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const reported = parseResult(line);
        if (reported !== undefined) result = reported;
        else if (echo) process.stdout.write(`${line}\n`);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (buffered !== '' && echo) process.stdout.write(buffered);
      if (code !== 0) reject(new Error(`${script} ${args.join(' ')} exited with ${signal ?? code}${stderr ? `\n${stderr}` : ''}`));
      else if (result === undefined) reject(new Error(`${script} ${args.join(' ')} reported no result`));
      else resolve(result);
    });
  });
}

module.exports = { runChild, reportResult, parseResult };
