// HeapRecorder writes this thread's JS heap profile to a directory every period and once at exit.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { AllocscopeError } from '../errors';
import { encode } from '../format';
import { heap } from '../heap/heap-profiler';
import type { HeapProfilerOptions } from '../heap/options';
import { describeIoError } from '../util/io-errors';
import { onFinalExit } from './exit-hooks';
import { profileFileName } from './file-names';

export interface RecorderOptions {
  /** Directory for the profiles; created if missing. */
  outDir: string;
  /** Write a profile every this many seconds as well as at exit; undefined: only at exit. */
  periodSeconds: number | undefined;
  heap: HeapProfilerOptions;
  /** Where problems are reported; the recorder never throws into the application. */
  report: (message: string) => void;
}

/**
 * HeapRecorder owns the heap profiler of its thread while it runs. Periodic profiles skip the
 * full garbage collection (it would pause the application every period), so they may count
 * garbage not yet collected; the profile at exit is taken after a full collection.
 */
export class HeapRecorder {
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private removeExitHooks: (() => void) | undefined;

  constructor(private readonly options: RecorderOptions) {}

  /** start creates the directory and starts sampling; throws if either fails. */
  start(): void {
    try {
      fs.mkdirSync(this.options.outDir, { recursive: true });
    } catch (error) {
      throw new AllocscopeError('ERR_IO', `cannot write profiles to ${this.options.outDir}: ${describeIoError(error)}`, { cause: error });
    }
    heap.start(this.options.heap);
    if (this.options.periodSeconds !== undefined) {
      this.timer = setInterval(() => this.writePeriodic(), this.options.periodSeconds * 1000);
      this.timer.unref();
    }
    this.removeExitHooks = onFinalExit(() => this.stop());
  }

  /** stop writes the final profile (after a full collection) and stops sampling. */
  stop(): void {
    if (!heap.isRunning()) return;
    clearInterval(this.timer);
    this.removeExitHooks?.();
    try {
      const { file, bytes } = this.takeProfile(true);
      fs.writeFileSync(file, bytes);
    } catch (error) {
      this.options.report(`could not write the final heap profile: ${describeIoError(error)}`);
    }
    heap.stop();
  }

  private writePeriodic(): void {
    try {
      const { file, bytes } = this.takeProfile(false);
      fs.writeFile(file, bytes, (error) => {
        if (error) this.options.report(`could not write ${file}: ${describeIoError(error)}`);
      });
    } catch (error) {
      this.options.report(`could not take a heap profile: ${(error as Error).message}`);
    }
  }

  private takeProfile(collectGarbage: boolean): { file: string; bytes: Buffer } {
    const bytes = encode(heap.profile({ collectGarbage }));
    this.sequence += 1;
    const name = profileFileName({ time: new Date(), pid: process.pid, threadId, sequence: this.sequence, kind: 'heap' });
    return { file: path.join(this.options.outDir, name), bytes };
  }
}
