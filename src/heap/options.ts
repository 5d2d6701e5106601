// Options of the JS heap profiler: defaults, limits and validation.
import { checkOptionsObject, integerOption } from '../util/options';

/** HeapProfilerOptions configure {@link heap.start}. */
export interface HeapProfilerOptions {
  /** Mean bytes allocated between two samples (default 512 KiB, as V8 and Go use). */
  intervalBytes?: number;
  /** Deepest JS stack recorded per sample (default 64 frames). */
  stackDepth?: number;
}

/** HeapProfilerSettings are the options after defaults were applied. */
export interface HeapProfilerSettings {
  intervalBytes: number;
  stackDepth: number;
}

export const DEFAULT_HEAP_INTERVAL_BYTES = 512 * 1024;
export const DEFAULT_STACK_DEPTH = 64;
/** Intervals above 1 GiB would sample almost nothing; depths above 1024 only cost memory. */
export const MAX_INTERVAL_BYTES = 1024 * 1024 * 1024;
export const MAX_STACK_DEPTH = 1024;

/** resolveHeapOptions validates options and fills in defaults; throws TypeError/RangeError. */
export function resolveHeapOptions(options: HeapProfilerOptions | undefined): HeapProfilerSettings {
  const where = 'allocscope heap.start()';
  checkOptionsObject(options, ['intervalBytes', 'stackDepth'], where);
  return {
    intervalBytes: integerOption(where, 'intervalBytes', options?.intervalBytes, DEFAULT_HEAP_INTERVAL_BYTES, 1, MAX_INTERVAL_BYTES),
    stackDepth: integerOption(where, 'stackDepth', options?.stackDepth, DEFAULT_STACK_DEPTH, 1, MAX_STACK_DEPTH),
  };
}
