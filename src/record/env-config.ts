// Reads the recorder's settings from environment variables (what `allocscope run` sets and `register` reads).
import * as path from 'node:path';
import { MAX_STACK_DEPTH } from '../heap/options';
import { parseBytes, parseCount, parseSeconds } from '../util/parse-units';
import type { RecorderOptions } from './recorder';

/** The environment variables of the recorder. */
export const ENV = {
  out: 'ALLOCSCOPE_OUT',
  period: 'ALLOCSCOPE_PERIOD',
  heapInterval: 'ALLOCSCOPE_HEAP_INTERVAL',
  heapDepth: 'ALLOCSCOPE_HEAP_DEPTH',
} as const;

/**
 * recorderOptionsFromEnv parses the variables in ENV (empty counts as unset); it throws
 * UnitParseError naming the variable when one is malformed.
 */
export function recorderOptionsFromEnv(env: NodeJS.ProcessEnv, report: (message: string) => void): RecorderOptions {
  const read = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const period = read(ENV.period);
  const interval = read(ENV.heapInterval);
  const depth = read(ENV.heapDepth);
  return {
    outDir: path.resolve(read(ENV.out) ?? 'allocscope-profiles'),
    periodSeconds: period === undefined ? undefined : parseSeconds(ENV.period, period),
    heap: {
      ...(interval === undefined ? {} : { intervalBytes: parseBytes(ENV.heapInterval, interval) }),
      ...(depth === undefined ? {} : { stackDepth: parseCount(ENV.heapDepth, depth, 1, MAX_STACK_DEPTH) }),
    },
    report,
  };
}
