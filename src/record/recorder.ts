// Recorder collects this thread's profiles (JS heap; native on the main thread) every period and at exit, and hands them to delivery.
import * as os from 'node:os';
import { isMainThread, threadId } from 'node:worker_threads';
import { parseDestinations } from '../deliver/parse-destinations';
import { DeliveryQueue } from '../deliver/delivery-queue';
import type { Retention } from '../deliver/file-destination';
import type { HeapKind, ProfilePayload } from '../deliver/payload';
import { Spool } from '../deliver/spool';
import { encode, encodeAsync } from '../format';
import { heap } from '../heap/heap-profiler';
import type { HeapProfilerOptions } from '../heap/options';
import type { Profile } from '../model/profile';
import { sampleTypeTotal } from '../model/totals';
import { addon } from '../native/bindings';
import { native, periodProfile as nativePeriodProfile } from '../native-heap/native-profiler';
import type { NativeProfilerOptions } from '../native-heap/options';
import { onFinalExit } from './exit-hooks';
import { handlesProfile } from './handles-profile';
import { ResourceStacks } from './resource-stacks';
import { registerMetrics } from './metrics';

export interface RecorderOptions {
  /** Names the profiles' series (Pyroscope's application name, S3 key prefix). */
  service: string;
  labels: Record<string, string>;
  /** Take profiles every this many seconds as well as at exit; undefined: only at exit. */
  periodSeconds: number | undefined;
  /** JS heap profiling of this thread; undefined: off. */
  heap: HeapProfilerOptions | undefined;
  /** Native profiling of the process, started by the main thread only; undefined: off. */
  native: NativeProfilerOptions | undefined;
  /** Where profiles go: directories, file://, s3://, http(s):// (see parseDestinations). */
  destinations: readonly string[];
  /** How many profiles directory destinations keep. */
  retention: Retention;
  /** Where undelivered profiles wait for their destination; undefined: nowhere (they are dropped and counted). */
  spool: { dir: string; maxBytes: number } | undefined;
  /** How long the last profiles may take to deliver at exit before they are left in the spool. */
  flushTimeoutMs: number;
  requestTimeoutMs: number;
  /** Keep the creation stack of every live async resource for the handles profile (costly: opt-in). */
  handleStacks: boolean;
  /** Write a profile pair when this thread's JS heap nears V8's limit, before an out-of-memory crash. */
  nearHeapLimit: boolean;
  /** Where problems are reported; the recorder never throws into the application after start. */
  report: (message: string) => void;
}

const KIND_NAMES: Record<HeapKind, string> = { js: 'JS heap', native: 'native', handles: 'handles' };

/** Period numbers and times a profile pair shares. */
interface Period {
  sequence: number;
  startMs: number;
  endMs: number;
}

/** Queue sizes and backoff: a destination down for hours costs a bounded queue and a bounded spool. */
const MAX_QUEUE = 16;
const ATTEMPTS_BEFORE_SPOOL = 3;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;
/**
 * How far V8's heap limit is raised when it is near, for taking and encoding the last profiles
 * (a few MiB at the default intervals); the process that is out of memory dies this much later.
 */
const HEAP_LIMIT_HEADROOM_BYTES = 64 * 1024 * 1024;

/**
 * Recorder owns the profilers of its thread while it runs. Periodic profiles skip the full
 * garbage collection (it would pause the application every period), so they may count garbage
 * not yet collected; the profiles at exit are taken after a full collection, the native one
 * after the JS one so that dead Buffers have released their memory. Native profiles carry
 * alloc_* per period (see periodProfile).
 */
export class Recorder {
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private removeExitHooks: (() => void) | undefined;
  private readonly kinds: HeapKind[] = [];
  private periodStartMs = Date.now();
  private finished = false;
  private collecting = false;
  /** Whether the metrics need no more registering (a worker's never do: the main thread's recorder has them). */
  private metricsRegistered = true;
  private resourceStacks: ResourceStacks | undefined;
  private readonly pending: { kind: HeapKind; period: Period; profile: Profile }[] = [];
  private delivery: DeliveryQueue | undefined;
  /** The last profiles' in-use totals, for metrics. */
  readonly lastInuseBytes: Partial<Record<HeapKind, number>> = {};

  constructor(private readonly options: RecorderOptions) {}

  /** start checks the destinations and starts the profilers; throws if any fails, with nothing left running. */
  start(): void {
    const destinations = parseDestinations(this.options.destinations, process.env, this.options.retention);
    const spool = this.options.spool === undefined || destinations.every((d) => d.sendSync !== undefined)
      ? undefined
      : new Spool(this.options.spool.dir, this.options.spool.maxBytes);
    this.delivery = new DeliveryQueue(destinations, {
      maxQueue: MAX_QUEUE, requestTimeoutMs: this.options.requestTimeoutMs, attemptsBeforeSpool: ATTEMPTS_BEFORE_SPOOL,
      backoffBaseMs: BACKOFF_BASE_MS, backoffMaxMs: BACKOFF_MAX_MS, spool, report: this.options.report,
    });
    // Each profiler that cannot start (V8's sampler taken by another tool, a preloaded
    // allocator) is said once and left out; the others still run.
    if (this.options.heap !== undefined) {
      try {
        heap.start(this.options.heap);
        this.kinds.push('js');
      } catch (error) {
        this.options.report(`JS heap profiling is off: ${(error as Error).message}`);
      }
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
      // Periodic collections also count handles: growth is visible only across periods.
      this.kinds.push('handles');
      if (this.options.handleStacks) {
        this.resourceStacks = new ResourceStacks();
        this.resourceStacks.enable();
      }
      this.timer = setInterval(() => void this.collectPeriodic(), this.options.periodSeconds * 1000);
      this.timer.unref();
    }
    this.removeExitHooks = onFinalExit({ sync: () => this.finishSync(), async: () => this.stop() });
    if (this.options.nearHeapLimit) addon().watchHeapLimit((limitBytes) => this.collectNearHeapLimit(limitBytes), HEAP_LIMIT_HEADROOM_BYTES);
    this.metricsRegistered = !isMainThread || registerMetrics(this);
  }

  /** deliveryQueue: the queue (for metrics and tests); undefined before start. */
  get deliveryQueue(): DeliveryQueue | undefined {
    return this.delivery;
  }

  /** flush takes a profile of each kind now and waits (up to the flush timeout) until everything queued is delivered. */
  async flush(): Promise<void> {
    if (this.finished) return;
    await this.collectPeriodic();
    await this.delivery?.flush(Date.now() + this.options.flushTimeoutMs, { close: false });
  }

  /** stop takes the last profiles, stops the profilers and delivers within the flush timeout; the rest goes to the spool. */
  async stop(): Promise<void> {
    if (this.finished) return;
    this.finishProfiling();
    await this.delivery?.flush(Date.now() + this.options.flushTimeoutMs, { close: true });
  }

  /** finishSync is stop() without the event loop: at 'exit', after process.exit(). */
  private finishSync(): void {
    this.finishProfiling();
    this.delivery?.flushSync();
  }

  private finishProfiling(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    this.removeExitHooks?.();
    if (this.options.nearHeapLimit) addon().unwatchHeapLimit();
    if (this.kinds.length === 0) return;
    this.queuePendingNow();
    this.collect(true);
    if (this.kinds.includes('js')) heap.stop();
    if (this.kinds.includes('native')) native.stop();
    this.resourceStacks?.disable();
  }

  /**
   * collectNearHeapLimit runs when V8 finds the JS heap near its limit (it has raised the limit
   * a little for this): the process may die before the event loop turns again, so the pair is
   * taken, encoded and written to disk (files, or the spool for uploads) before returning.
   * Profiling goes on: a heap that recovers keeps its periods.
   */
  private collectNearHeapLimit(limitBytes: number): void {
    if (this.finished) return;
    try {
      this.collect(false, { durable: true });
      const whose = isMainThread ? 'the JS heap' : `worker ${threadId}'s JS heap`;
      this.options.report(`${whose} is near its limit of ${Math.round(limitBytes / 1048576)} MiB: wrote profiles (sequence ${this.sequence}) in case it runs out of memory`);
    } catch (error) {
      this.options.report(`could not write profiles near the heap limit: ${(error as Error).message}`);
    }
  }

  /** collect takes one profile of each kind, numbered alike, and queues them at once (durably: written before it returns). */
  private collect(final: boolean, { durable = false } = {}): void {
    const period = this.nextPeriod();
    if (final && !this.kinds.includes('js')) addon().collectGarbage();
    for (const kind of this.kinds) {
      const profile = this.takeReported(kind, final, period);
      if (profile === undefined) continue;
      const payload = this.payload(kind, period, encode(profile));
      if (durable) this.delivery?.enqueueDurable(payload);
      else this.delivery?.enqueue(payload);
    }
  }

  /**
   * collectPeriodic takes the profiles in one turn of the event loop (a pair, and an exit cannot
   * come between them), then encodes each in a turn of its own, compressing on the threadpool:
   * a period blocks the application for its longest step, not their sum
   * (bench/continuous-block.js). Profiles taken but not yet queued wait in `pending`, which an
   * exit queues at once. A collection still running when the next is due is not doubled.
   */
  private async collectPeriodic(): Promise<void> {
    if (this.collecting) return;
    this.collecting = true;
    try {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.finished) return;
      if (!this.metricsRegistered) this.metricsRegistered = registerMetrics(this);
      const period = this.nextPeriod();
      for (const kind of this.kinds) {
        const profile = this.takeReported(kind, false, period);
        if (profile !== undefined) this.pending.push({ kind, period, profile });
      }
      while (this.pending.length > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const next = this.pending[0];
        if (next === undefined) break;
        const bytes = await encodeAsync(next.profile);
        if (this.pending[0] !== next) continue; // an exit queued it meanwhile
        this.pending.shift();
        this.delivery?.enqueue(this.payload(next.kind, next.period, bytes));
      }
    } catch (error) {
      this.options.report(`could not encode a profile: ${(error as Error).message}`);
      this.pending.length = 0;
    } finally {
      this.collecting = false;
    }
  }

  /** queuePendingNow encodes and queues, synchronously, what a periodic collection has taken and not queued yet. */
  private queuePendingNow(): void {
    for (const { kind, period, profile } of this.pending.splice(0)) {
      this.delivery?.enqueue(this.payload(kind, period, encode(profile)));
    }
  }

  private nextPeriod(): Period {
    this.sequence += 1;
    const startMs = this.periodStartMs;
    this.periodStartMs = Date.now();
    return { sequence: this.sequence, startMs, endMs: this.periodStartMs };
  }

  private payload(kind: HeapKind, period: Period, bytes: Buffer): ProfilePayload {
    return {
      service: this.options.service, heap: kind, labels: this.options.labels, startMs: period.startMs, endMs: period.endMs,
      host: os.hostname(), pid: process.pid, threadId, sequence: period.sequence, bytes,
    };
  }

  /** takeReported takes a profile (the native one made per period); a failure is reported, not thrown. */
  private takeReported(kind: HeapKind, collectGarbage: boolean, period: Period): Profile | undefined {
    try {
      const profile = this.take(kind, collectGarbage, period);
      this.lastInuseBytes[kind] = sampleTypeTotal(profile, 'inuse_space');
      return profile;
    } catch (error) {
      this.options.report(`could not take a ${KIND_NAMES[kind]} profile: ${(error as Error).message}`);
      return undefined;
    }
  }

  private take(kind: HeapKind, collectGarbage: boolean, period: Period): Profile {
    switch (kind) {
      case 'js':
        return heap.profile({ collectGarbage });
      case 'native':
        // Every native profile here (periodic, near the heap limit, at exit) counts its
        // period's allocations: see periodProfile.
        return nativePeriodProfile();
      case 'handles':
        return handlesProfile(period.startMs, period.endMs, this.resourceStacks);
    }
  }

}
