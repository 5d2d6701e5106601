// Options of the native heap profiler: defaults, limits and validation.
import { checkOptionsObject, integerOption } from '../util/options';
import { DEFAULT_HEAP_INTERVAL_BYTES, MAX_INTERVAL_BYTES } from '../heap/options';

/** NativeProfilerOptions configure {@link native.start}. */
export interface NativeProfilerOptions {
  /** Mean bytes allocated between two samples (default 512 KiB, like the JS heap profiler). */
  intervalBytes?: number;
  /** Deepest native stack recorded per sample (default 64, at most 128 frames). */
  stackDepth?: number;
}

export interface NativeProfilerSettings {
  intervalBytes: number;
  stackDepth: number;
}

/** The ring buffer's records hold 128 frames (native/ring/sample-record.h). */
export const MAX_NATIVE_STACK_DEPTH = 128;

/** resolveNativeOptions validates options and fills in defaults; throws TypeError/RangeError. */
export function resolveNativeOptions(options: NativeProfilerOptions | undefined): NativeProfilerSettings {
  const where = 'allocscope native.start()';
  checkOptionsObject(options, ['intervalBytes', 'stackDepth'], where);
  return {
    intervalBytes: integerOption(where, 'intervalBytes', options?.intervalBytes, DEFAULT_HEAP_INTERVAL_BYTES, 1, MAX_INTERVAL_BYTES),
    stackDepth: integerOption(where, 'stackDepth', options?.stackDepth, 64, 1, MAX_NATIVE_STACK_DEPTH),
  };
}
