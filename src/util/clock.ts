// Wall-clock time in nanoseconds since the Unix epoch, with sub-millisecond precision.
import { performance } from 'node:perf_hooks';

/** nowNanos returns the current time as a bigint: nanoseconds exceed 2^53. */
export function nowNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}
