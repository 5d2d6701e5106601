// Reads the recorder's settings from environment variables (what `allocscope run` sets and `register` reads).
import * as path from 'node:path';
import { MAX_STACK_DEPTH } from '../heap/options';
import { parseBytes, parseCount, parseSeconds, UnitParseError } from '../util/parse-units';
import type { RecorderOptions } from './recorder';

/** The environment variables of the recorder. */
export const ENV = {
  out: 'ALLOCSCOPE_OUT',
  period: 'ALLOCSCOPE_PERIOD',
  heap: 'ALLOCSCOPE_HEAP',
  heapInterval: 'ALLOCSCOPE_HEAP_INTERVAL',
  heapDepth: 'ALLOCSCOPE_HEAP_DEPTH',
  native: 'ALLOCSCOPE_NATIVE',
  nativeInterval: 'ALLOCSCOPE_NATIVE_INTERVAL',
} as const;

/** enabled reads a switch: unset or 1 means on, 0 off; anything else is an error. */
function enabled(name: string, text: string | undefined): boolean {
  if (text === undefined || text === '1') return true;
  if (text === '0') return false;
  throw new UnitParseError(`${name} must be 0 (off) or 1 (on), got '${text}'`);
}

/**
 * recorderOptionsFromEnv parses the variables in ENV (empty counts as unset); it throws
 * UnitParseError naming the variable when one is malformed.
 */
export function recorderOptionsFromEnv(env: NodeJS.ProcessEnv, report: (message: string) => void): RecorderOptions {
  const read = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const period = read(ENV.period);
  const interval = read(ENV.heapInterval);
  const depth = read(ENV.heapDepth);
  const nativeInterval = read(ENV.nativeInterval);
  return {
    outDir: path.resolve(read(ENV.out) ?? 'allocscope-profiles'),
    periodSeconds: period === undefined ? undefined : parseSeconds(ENV.period, period),
    heap: !enabled(ENV.heap, read(ENV.heap))
      ? undefined
      : {
          ...(interval === undefined ? {} : { intervalBytes: parseBytes(ENV.heapInterval, interval) }),
          ...(depth === undefined ? {} : { stackDepth: parseCount(ENV.heapDepth, depth, 1, MAX_STACK_DEPTH) }),
        },
    native: !enabled(ENV.native, read(ENV.native))
      ? undefined
      : nativeInterval === undefined ? {} : { intervalBytes: parseBytes(ENV.nativeInterval, nativeInterval) },
    report,
  };
}
