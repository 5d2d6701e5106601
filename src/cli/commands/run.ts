// `allocscope run`: runs a command with every Node process it starts profiled, and exits as the command does.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command';
import { checked, parseOptions, usageError } from '../args';
import { MAX_INTERVAL_BYTES, MAX_STACK_DEPTH } from '../../heap/options';
import { MAX_SAMPLES_PER_SECOND } from '../../native-heap/options';
import { PROFILE_FILE_PATTERN } from '../../record/file-names';
import { ENV, parseLabels } from '../../record/env-config';
import { parseBytes, parseCount, parseSeconds, UnitParseError } from '../../util/parse-units';

const OPTIONS = {
  out: { type: 'string' },
  every: { type: 'string' },
  upload: { type: 'string' },
  service: { type: 'string' },
  labels: { type: 'string' },
  interval: { type: 'string' },
  depth: { type: 'string' },
  'native-interval': { type: 'string' },
  'native-max-rate': { type: 'string' },
  'no-native': { type: 'boolean' },
  'no-heap': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Signals passed on to the child; SIGUSR1 is left alone because Node reserves it for the inspector. */
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** splitCommand separates run's own options from the command: at `--` or at the first word that is not an option. */
function splitCommand(args: string[]): { own: string[]; command: string[] } {
  const takesValue = new Set(Object.entries(OPTIONS).filter(([, spec]) => spec.type === 'string').map(([name]) => `--${name}`));
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return { own: args.slice(0, i), command: args.slice(i + 1) };
    if (!arg.startsWith('-')) return { own: args.slice(0, i), command: args.slice(i) };
    if (takesValue.has(arg)) i++;
  }
  return { own: args, command: [] };
}

function listProfiles(dir: string): Set<string> {
  try {
    return new Set(fs.readdirSync(dir).filter((name) => PROFILE_FILE_PATTERN.test(name)));
  } catch {
    return new Set();
  }
}

/** nodeOptionsWithPreload appends `--require <register>` to NODE_OPTIONS, quoting the path as Node parses it. */
function nodeOptionsWithPreload(existing: string | undefined): string {
  const register = path.join(__dirname, '..', '..', 'register.js');
  const quoted = `"${register.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return [existing, `--require ${quoted}`].filter(Boolean).join(' ');
}

export const run: Command = {
  name: 'run',
  summary: 'run a command with JS heap and native memory profiling in every Node process it starts',
  help: `Usage: allocscope run [--out DIR] [--every SECONDS] [--upload DESTINATIONS] [--service NAME]
                      [--labels k=v,...] [--interval BYTES] [--depth N] [--native-interval BYTES]
                      [--native-max-rate N] [--no-native] [--no-heap] -- COMMAND...

Runs COMMAND (a node script, npm start, ...) with allocscope preloaded into every Node process
and worker thread it starts (through NODE_OPTIONS=--require). Each thread writes a JS heap
profile, <time>-pid<pid>[-w<thread>]-<seq>.heap.pb.gz, and each process a native memory profile
(malloc/free of Node, addons and their libraries) beside it, <...>.native.pb.gz, at exit (also
on an uncaught exception, SIGINT and SIGTERM) and every SECONDS if --every is given. Signals are
forwarded to COMMAND, its output passes through untouched, and run exits with its exit code.

With --upload, profiles go to the destinations instead (and to --out too when it is given),
every SECONDS (default 60): directories, file://, s3://bucket/prefix (AWS credentials, region
and AWS_ENDPOINT_URL_S3 from the environment), http(s)://host/ingest (Pyroscope; token from
ALLOCSCOPE_AUTH_TOKEN, tenant from ALLOCSCOPE_TENANT) or any other http(s) URL (a plain POST).
What cannot be delivered waits in a spool (ALLOCSCOPE_SPOOL) and is retried. See docs/continuous.md.

Options:
  --out DIR                directory for the profiles (default ./allocscope-profiles)
  --every SECONDS          also write profiles every SECONDS (periodic profiles skip the full GC)
  --upload DESTINATIONS    comma-separated destinations for continuous profiling
  --service NAME           the service the profiles belong to (default: the package.json name)
  --labels k=v,...         labels of every profile, e.g. env=prod,region=eu
  --interval BYTES         JS heap: mean bytes between samples, e.g. 524288 or 512k (default 512k)
  --depth N                JS heap: deepest stack kept per sample (default 64)
  --native-interval BYTES  native: mean bytes between samples (default 512k)
  --native-max-rate N      native: at most about N samples a second; a faster allocator is
                           sampled at a wider interval (default 100; 0: the interval stays fixed)
  --no-native              no native profiling
  --no-heap                no JS heap profiling (native memory only)
  -h, --help               show this help

Examples:
  allocscope run --every 10 -- node server.js
  allocscope run --every 60 --upload s3://my-bucket/profiles -- node server.js
  allocscope top allocscope-profiles/<newest>.heap.pb.gz
`,
  async run(args) {
    const { own, command } = splitCommand(args);
    const { values, positionals } = parseOptions('run', own, OPTIONS);
    if (values.help) {
      process.stdout.write(this.help);
      return 0;
    }
    if (positionals.length > 0 || command.length === 0) throw usageError('run', 'missing the command to run, e.g. allocscope run -- node app.js');
    const outDir = values.out === undefined && values.upload !== undefined ? undefined : path.resolve(values.out ?? 'allocscope-profiles');
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: nodeOptionsWithPreload(process.env['NODE_OPTIONS']) };
    if (outDir !== undefined) env[ENV.out] = outDir;
    checked('run', () => {
      if (values.upload !== undefined) env[ENV.upload] = values.upload;
      if (values.service !== undefined) env[ENV.service] = values.service;
      if (values.labels !== undefined) env[ENV.labels] = Object.entries(parseLabels('--labels', values.labels)).map(([k, v]) => `${k}=${v}`).join(',');
      if (values.every !== undefined) env[ENV.period] = String(parseSeconds('--every', values.every));
      if (values.interval !== undefined) {
        const bytes = parseBytes('--interval', values.interval);
        if (bytes > MAX_INTERVAL_BYTES) throw new UnitParseError(`--interval must be at most ${MAX_INTERVAL_BYTES} bytes (1g), got '${values.interval}'`);
        env[ENV.heapInterval] = String(bytes);
      }
      if (values.depth !== undefined) env[ENV.heapDepth] = String(parseCount('--depth', values.depth, 1, MAX_STACK_DEPTH));
      if (values['native-interval'] !== undefined) {
        env[ENV.nativeInterval] = String(parseBytes('--native-interval', values['native-interval']));
      }
      if (values['native-max-rate'] !== undefined) {
        env[ENV.nativeMaxRate] = String(parseCount('--native-max-rate', values['native-max-rate'], 0, MAX_SAMPLES_PER_SECOND));
      }
      if (values['no-native'] && values['no-heap']) throw new UnitParseError('--no-native and --no-heap leave nothing to profile');
      env[ENV.native] = values['no-native'] ? '0' : '1';
      env[ENV.heap] = values['no-heap'] ? '0' : '1';
    });
    const before = outDir === undefined ? new Set<string>() : listProfiles(outDir);
    const [file, ...rest] = command as [string, ...string[]];
    return new Promise<number>((resolve) => {
      const child = spawn(file, rest, { stdio: 'inherit', env });
      const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
      for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
      const done = (): void => {
        for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
        if (outDir === undefined) return;
        const written = [...listProfiles(outDir)].filter((name) => !before.has(name)).length;
        process.stderr.write(
          written > 0
            ? `allocscope: wrote ${written} profile${written === 1 ? '' : 's'} to ${outDir}\n`
            : `allocscope: no profiles were written to ${outDir}; was the command a Node.js program?\n`,
        );
      };
      child.on('error', (error: NodeJS.ErrnoException) => {
        done();
        process.stderr.write(`allocscope: cannot run '${file}': ${error.code === 'ENOENT' ? 'command not found' : error.message}\n`);
        resolve(error.code === 'ENOENT' ? 127 : 126);
      });
      child.on('exit', (code, signal) => {
        done();
        // Die by the same signal, so our parent sees what it would have seen without us.
        if (signal !== null) process.kill(process.pid, signal);
        resolve(code ?? 1);
      });
    });
  },
};
