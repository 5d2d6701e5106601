// Recorder writes this thread's profiles (JS heap; native on the main thread) to a directory every period and at exit.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { AllocscopeError } from '../errors';
import { encode } from '../format';
import { profileFieldNumbers } from '../format/profile-schema';
import { heap } from '../heap/heap-profiler';
import type { HeapProfilerOptions } from '../heap/options';
import type { Profile } from '../model/profile';
import { addon } from '../native/bindings';
import { native } from '../native-heap/native-profiler';
import type { NativeProfilerOptions } from '../native-heap/options';
import { describeIoError } from '../util/io-errors';
import { onFinalExit } from './exit-hooks';
import { type ProfileKind, profileFileName } from './file-names';

export interface RecorderOptions {
  /** Directory for the profiles; created if missing. */
  outDir: string;
  /** Write profiles every this many seconds as well as at exit; undefined: only at exit. */
  periodSeconds: number | undefined;
  /** JS heap profiling of this thread; undefined: off. */
  heap: HeapProfilerOptions | undefined;
  /** Native profiling of the process, started by the main thread only; undefined: off. */
  native: NativeProfilerOptions | undefined;
  /** Where problems are reported; the recorder never throws into the application. */
  report: (message: string) => void;
}

/**
 * Recorder owns the profilers of its thread while it runs. Periodic profiles skip the full
 * garbage collection (it would pause the application every period), so they may count garbage
 * not yet collected; the profiles at exit are taken after a full collection, the native one
 * after the JS one so that dead Buffers have released their memory.
 */
export class Recorder {
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private removeExitHooks: (() => void) | undefined;
  private readonly kinds: ProfileKind[] = [];

  constructor(private readonly options: RecorderOptions) {}

  /** start creates the directory and starts the profilers; throws if either fails. */
  start(): void {
    try {
      fs.mkdirSync(this.options.outDir, { recursive: true });
    } catch (error) {
      throw new AllocscopeError('ERR_IO', `cannot write profiles to ${this.options.outDir}: ${describeIoError(error)}`, { cause: error });
    }
    // Load the pprof schema before sampling starts: its one-time allocations are allocscope's,
    // and would otherwise show in the application's first profiles.
    profileFieldNumbers();
    if (this.options.heap !== undefined) {
      heap.start(this.options.heap);
      this.kinds.push('heap');
    }
    // Native hooks are process-wide: the main thread's recorder owns them; a worker's has its JS
    // frames named in their stacks.
    if (this.options.native !== undefined && isMainThread) {
      try {
        native.start(this.options.native);
        this.kinds.push('native');
      } catch (error) {
        this.options.report(`native profiling is off: ${(error as Error).message}`);
      }
    } else if (this.options.native !== undefined) {
      native.nameJsFrames();
    }
    if (this.kinds.length === 0) return;
    if (this.options.periodSeconds !== undefined) {
      this.timer = setInterval(() => this.writeAll(false), this.options.periodSeconds * 1000);
      this.timer.unref();
    }
    this.removeExitHooks = onFinalExit(() => this.stop());
  }

  /** stop writes the final profiles (after a full collection) and stops the profilers. */
  stop(): void {
    if (this.kinds.length === 0) return;
    clearInterval(this.timer);
    this.removeExitHooks?.();
    this.writeAll(true);
    if (this.kinds.includes('heap')) heap.stop();
    if (this.kinds.includes('native')) native.stop();
    this.kinds.length = 0;
  }

  /**
   * writeAll takes one profile of each kind, named alike. Files are written synchronously (a
   * few hundred KiB take about a millisecond) and atomically, through a temporary name and a
   * rename: an asynchronous write still under way when the program calls process.exit() left
   * an empty profile behind, and a reader listing the directory must never see half a file.
   */
  private writeAll(final: boolean): void {
    this.sequence += 1;
    const time = new Date();
    if (final && !this.kinds.includes('heap')) addon().collectGarbage();
    for (const kind of this.kinds) {
      const file = path.join(this.options.outDir, profileFileName({ time, pid: process.pid, threadId, sequence: this.sequence, kind }));
      let bytes: Buffer;
      try {
        bytes = encode(this.take(kind, final));
      } catch (error) {
        this.options.report(`could not take a ${kind} profile: ${(error as Error).message}`);
        continue;
      }
      try {
        fs.writeFileSync(`${file}.tmp`, bytes);
        fs.renameSync(`${file}.tmp`, file);
      } catch (error) {
        this.options.report(`could not write ${file}: ${describeIoError(error)}`);
      }
    }
  }

  private take(kind: ProfileKind, collectGarbage: boolean): Profile {
    return kind === 'heap' ? heap.profile({ collectGarbage }) : native.profile();
  }
}
