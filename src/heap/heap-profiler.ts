// `heap`: start, snapshot and stop V8's sampling heap profiler for the calling thread.
import { threadId } from 'node:worker_threads';
import { AllocscopeError } from '../errors';
import type { Profile } from '../model/profile';
import { addon } from '../native/bindings';
import { nowNanos } from '../util/clock';
import { checkOptionsObject } from '../util/options';
import { buildHeapProfile } from './build-heap-profile';
import { type HeapProfilerOptions, type HeapProfilerSettings, resolveHeapOptions } from './options';

/** HeapSnapshotOptions configure {@link heap.profile}. */
export interface HeapSnapshotOptions {
  /**
   * Run a full garbage collection first (default false), so objects that are already garbage
   * are not reported as in use. It pauses the thread for a full mark-compact, typically a few
   * to tens of milliseconds on heaps of hundreds of MiB.
   */
  collectGarbage?: boolean;
}

let running: { settings: HeapProfilerSettings; startNanos: bigint } | undefined;

/** The JS heap profiler of the calling thread (main thread or worker: each has its own). */
export const heap = {
  /**
   * start begins sampling JS heap allocations. Throws TypeError/RangeError for bad options,
   * AllocscopeError ERR_ALREADY_RUNNING (naming the running settings) when already started, and
   * ERR_SAMPLER_IN_USE when another tool runs V8's sampler on this thread.
   */
  start(options?: HeapProfilerOptions): void {
    const settings = resolveHeapOptions(options);
    if (running !== undefined) {
      const active = running.settings;
      throw new AllocscopeError(
        'ERR_ALREADY_RUNNING',
        `allocscope heap profiler is already running on this thread (intervalBytes=${active.intervalBytes}, ` +
          `stackDepth=${active.stackDepth}); call heap.stop() first`,
      );
    }
    if (!addon().heapStart(settings.intervalBytes, settings.stackDepth)) {
      throw new AllocscopeError(
        'ERR_SAMPLER_IN_USE',
        "V8's sampling heap profiler is already running on this thread, started by another tool " +
          '(the inspector, @datadog/pprof, ...); stop that tool before starting allocscope',
      );
    }
    running = { settings, startNanos: nowNanos() };
  },

  /** stop ends sampling and discards the samples; does nothing when not running. */
  stop(): void {
    if (running === undefined) return;
    addon().heapStop();
    running = undefined;
  },

  /** isRunning tells whether this thread's heap profiler is sampling. */
  isRunning(): boolean {
    return running !== undefined;
  },

  /** settings returns the running settings, or undefined when stopped. */
  settings(): HeapProfilerSettings | undefined {
    return running === undefined ? undefined : { ...running.settings };
  },

  /**
   * profile returns the memory in use now, as sampled since start. Throws AllocscopeError
   * ERR_NOT_RUNNING when the profiler was not started, or when another tool stopped V8's
   * sampler meanwhile (allocscope then counts as stopped).
   */
  profile(options?: HeapSnapshotOptions): Profile {
    checkOptionsObject(options, ['collectGarbage'], 'allocscope heap.profile()');
    if (running === undefined) {
      throw new AllocscopeError('ERR_NOT_RUNNING', 'allocscope heap profiler is not running; call heap.start() first');
    }
    const collectGarbage = options?.collectGarbage === true;
    const snapshot = addon().heapSnapshot(collectGarbage);
    if (snapshot === undefined) {
      running = undefined;
      throw new AllocscopeError(
        'ERR_NOT_RUNNING',
        "V8's sampling heap profiler was stopped by another tool on this thread (the inspector, " +
          '@datadog/pprof, ...); allocscope counts as stopped now: call heap.start() again',
      );
    }
    return buildHeapProfile(snapshot, {
      settings: running.settings,
      startNanos: running.startNanos,
      timeNanos: nowNanos(),
      threadId,
      collectedGarbage: collectGarbage,
    });
  },
};
