// Options of the native heap profiler: defaults, limits and validation.
import { checkOptionsObject, integerOption } from '../util/options';
import { DEFAULT_HEAP_INTERVAL_BYTES, MAX_INTERVAL_BYTES } from '../heap/options';

/** NativeProfilerOptions configure {@link native.start}. */
export interface NativeProfilerOptions {
  /** Mean bytes allocated between two samples (default 512 KiB, like the JS heap profiler). */
  intervalBytes?: number;
  /** Deepest native stack recorded per sample (default 64, at most 128 frames). */
  stackDepth?: number;
  /**
   * The sample budget (default 100): while the process allocates fast enough to take more
   * samples a second than this, the interval widens to keep them at about this rate, so each
   * sample's stack walk costs a bounded share of the CPU. Estimates stay unbiased (each sample
   * weighs by the interval that took it); detail is coarser meanwhile. 0 keeps intervalBytes fixed.
   */
  maxSamplesPerSecond?: number;
}

export interface NativeProfilerSettings {
  intervalBytes: number;
  stackDepth: number;
  maxSamplesPerSecond: number;
}

/**
 * The default sample budget. JFR samples Java allocations at a throttled 150 a second by
 * default; a native sample walks a deeper, eh_frame-unwound stack (about 1-2 µs on this
 * machine, see docs/performance.md), hence fewer.
 */
export const DEFAULT_MAX_SAMPLES_PER_SECOND = 100;
export const MAX_SAMPLES_PER_SECOND = 1_000_000;

/** The ring buffer's records hold 128 frames (native/ring/sample-record.h). */
export const MAX_NATIVE_STACK_DEPTH = 128;

/** resolveNativeOptions validates options and fills in defaults; throws TypeError/RangeError. */
export function resolveNativeOptions(options: NativeProfilerOptions | undefined): NativeProfilerSettings {
  const where = 'allocscope native.start()';
  checkOptionsObject(options, ['intervalBytes', 'stackDepth', 'maxSamplesPerSecond'], where);
  return {
    intervalBytes: integerOption(where, 'intervalBytes', options?.intervalBytes, DEFAULT_HEAP_INTERVAL_BYTES, 1, MAX_INTERVAL_BYTES),
    stackDepth: integerOption(where, 'stackDepth', options?.stackDepth, 64, 1, MAX_NATIVE_STACK_DEPTH),
    maxSamplesPerSecond: integerOption(where, 'maxSamplesPerSecond', options?.maxSamplesPerSecond,
      DEFAULT_MAX_SAMPLES_PER_SECOND, 0, MAX_SAMPLES_PER_SECOND),
  };
}
