// Preload entry (`node -r allocscope/register`): profiles this process and each of its workers, configured by environment.
import * as path from 'node:path';
import { HeapRecorder } from './record/recorder';
import { parseBytes, parseCount, parseSeconds } from './util/parse-units';
import { MAX_STACK_DEPTH } from './heap/options';

/** The environment variables read here; `allocscope run` sets them from its flags. */
export const ENV = {
  out: 'ALLOCSCOPE_OUT',
  period: 'ALLOCSCOPE_PERIOD',
  heapInterval: 'ALLOCSCOPE_HEAP_INTERVAL',
  heapDepth: 'ALLOCSCOPE_HEAP_DEPTH',
} as const;

function report(message: string): void {
  process.stderr.write(`allocscope: ${message}\n`);
}

function startFromEnvironment(env: NodeJS.ProcessEnv): void {
  const read = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const period = read(ENV.period);
  const interval = read(ENV.heapInterval);
  const depth = read(ENV.heapDepth);
  const recorder = new HeapRecorder({
    outDir: path.resolve(read(ENV.out) ?? 'allocscope-profiles'),
    periodSeconds: period === undefined ? undefined : parseSeconds(ENV.period, period),
    heap: {
      ...(interval === undefined ? {} : { intervalBytes: parseBytes(ENV.heapInterval, interval) }),
      ...(depth === undefined ? {} : { stackDepth: parseCount(ENV.heapDepth, depth, 1, MAX_STACK_DEPTH) }),
    },
    report,
  });
  recorder.start();
}

// A profiler must never stop the application it watches: report bad settings once, run on.
try {
  startFromEnvironment(process.env);
} catch (error) {
  report(`${(error as Error).message}; profiling is off for this process`);
}
