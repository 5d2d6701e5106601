// `native`: the process-wide native heap profiler (malloc/free of Node, addons and their libraries).
import { AllocscopeError } from '../errors';
import type { Profile } from '../model/profile';
import { addon } from '../native/bindings';
import type { NativeStats } from '../native/types';
import { nowNanos } from '../util/clock';
import { buildNativeProfile } from './build-native-profile';
import { type NativeProfilerOptions, type NativeProfilerSettings, resolveNativeOptions } from './options';

// The session is process-wide (hooks see every thread); this records how the calling thread's
// copy of the module started it. Another thread's start() fails with ERR_ALREADY_RUNNING.
// periodStartNanos: when the period of the next periodProfile() began.
let started: { settings: NativeProfilerSettings; startNanos: bigint; periodStartNanos: bigint } | undefined;

/** The native heap profiler: one per process, whichever thread starts it. */
export const native = {
  /**
   * start hooks malloc, calloc, realloc, free and the aligned allocators of every loaded object
   * (and of objects loaded later) by rewriting their GOT entries, and samples allocations every
   * intervalBytes on average (more while past maxSamplesPerSecond). Throws TypeError/RangeError
   * for bad options, AllocscopeError ERR_ALREADY_RUNNING when already running in this process,
   * ERR_UNSUPPORTED without glibc 2.35+.
   */
  start(options?: NativeProfilerOptions): void {
    const settings = resolveNativeOptions(options);
    const whyNot = addon().nativeStart(settings.intervalBytes, settings.stackDepth, settings.maxSamplesPerSecond);
    if (whyNot === 'already running') {
      const active = started?.settings;
      throw new AllocscopeError(
        'ERR_ALREADY_RUNNING',
        'allocscope native profiler is already running in this process' +
          (active ? ` (intervalBytes=${active.intervalBytes}, stackDepth=${active.stackDepth})` : ' (started by another thread)') +
          '; call native.stop() first',
      );
    }
    if (whyNot !== '') throw new AllocscopeError('ERR_UNSUPPORTED', `allocscope native profiler cannot start: ${whyNot}`);
    const startNanos = nowNanos();
    started = { settings, startNanos, periodStartNanos: startNanos };
  },

  /**
   * nameJsFrames makes native stacks name the calling thread's JS frames (function, script,
   * line), as the JS heap profile names them. start() does it for the thread that calls it; call
   * it in each worker whose JS frames should be named (`allocscope run` and allocscope/register
   * do). Functions the thread compiled before are named only once optimized; until then they
   * show as V8's interpreter entry (Builtins_InterpreterEntryTrampoline).
   */
  nameJsFrames(): void {
    addon().nativeNameJsFrames();
  },

  /** stop restores the GOT entries and discards the samples; does nothing when not running. */
  stop(): void {
    addon().nativeStop();
    started = undefined;
  },

  /** isRunning tells whether native profiling runs in this process (started by any thread). */
  isRunning(): boolean {
    return addon().nativeStats().running;
  },

  /** stats returns the counters: samples, drops, live samples, hooked objects, own memory. */
  stats(): NativeStats {
    return addon().nativeStats();
  },

  /**
   * profile returns native allocations since start (alloc_*) and those not freed yet (inuse_*).
   * Throws ERR_NOT_RUNNING when not started (or when started by another thread, whose settings
   * this thread does not know). While continuous profiling collects native profiles in this
   * process, it forgets stacks idle for a whole period: their alloc_* here then count from
   * when they were sampled again.
   */
  profile(): Profile {
    return takeProfile(false);
  },
};

/**
 * periodProfile is native.profile() for continuous profiling's collections: a profile of the
 * period since the previous periodProfile (or start), as continuous profilers send them. Its
 * alloc_* count that period only (the addon keeps them per stack), and stacks idle for the
 * whole period (no sample in it, none live) are forgotten first, so that the profiler's tables
 * and each profile hold recent stacks, not every stack ever seen.
 */
export function periodProfile(): Profile {
  return takeProfile(true);
}

function takeProfile(perPeriod: boolean): Profile {
  const session = started;
  const snapshot = session === undefined ? undefined : addon().nativeSnapshot(perPeriod);
  if (session === undefined || snapshot === undefined) {
    throw new AllocscopeError('ERR_NOT_RUNNING', 'allocscope native profiler is not running; call native.start() first');
  }
  const timeNanos = nowNanos();
  const startNanos = perPeriod ? session.periodStartNanos : session.startNanos;
  if (perPeriod) session.periodStartNanos = timeNanos;
  return buildNativeProfile(snapshot, { settings: session.settings, startNanos, timeNanos, perPeriod, stats: addon().nativeStats() });
}
