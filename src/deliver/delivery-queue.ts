// Delivers each profile to every destination exactly once or accounts for it: bounded queues, timeouts, backoff, spool.
import { DeliveryError, type Destination } from './destination';
import type { ProfilePayload } from './payload';
import type { Spool, SpooledPayload } from './spool';

export interface DeliveryOptions {
  /** Payloads held in memory per destination; beyond, the oldest go to the spool (or are dropped). */
  maxQueue: number;
  /** One request's time limit. */
  requestTimeoutMs: number;
  /** Consecutive failed attempts after which a destination counts as down: its queue goes to the spool. */
  attemptsBeforeSpool: number;
  /** Exponential backoff with full jitter between attempts: random(0, min(maxMs, baseMs * 2^failures)). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  spool: Spool | undefined;
  report: (message: string) => void;
}

/** Why a payload was finally not delivered. */
export type DropReason = 'rejected' | 'queue-full' | 'spool-full' | 'exit';

export interface DeliveryCounters {
  delivered: number;
  failedAttempts: number;
  spooled: number;
  dropped: Record<DropReason, number>;
}

interface Item {
  payload: ProfilePayload;
  /** Set while the payload also sits claimed in the spool. */
  spooled: SpooledPayload | undefined;
}

/** Lane is one destination's queue: one request at a time, in order. */
interface Lane {
  destination: Destination;
  items: Item[];
  busy: boolean;
  retryTimer: NodeJS.Timeout | undefined;
  failures: number;
  inFlight: AbortController | undefined;
}

/**
 * DeliveryQueue never throws into the application and never keeps it alive (timers are
 * unref'd). A destination that fails `attemptsBeforeSpool` times in a row is down: what it has
 * queued and what comes next goes to the spool, and each backoff sends one spooled payload as a
 * probe; the first success replays the spool, oldest first. Rejections (a 400, a missing bucket)
 * are not retried: they are dropped and counted, and said once.
 */
export class DeliveryQueue {
  readonly counters: DeliveryCounters = {
    delivered: 0, failedAttempts: 0, spooled: 0, dropped: { rejected: 0, 'queue-full': 0, 'spool-full': 0, exit: 0 },
  };
  private readonly lanes: Lane[];
  private readonly said = new Set<string>();
  private flushDeadline: number | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(destinations: Destination[], private readonly options: DeliveryOptions) {
    this.lanes = destinations.map((destination) => ({
      destination, items: [], busy: false, retryTimer: undefined, failures: 0, inFlight: undefined,
    }));
    // Payloads an earlier process left in the spool go first.
    for (const lane of this.lanes) this.refill(lane);
  }

  /** enqueue hands a payload to every destination. */
  enqueue(payload: ProfilePayload): void {
    if (this.closed) return;
    for (const lane of this.lanes) this.enqueueTo(lane, payload);
  }

  /**
   * enqueueDurable hands over a payload that must outlive the process if it dies before the
   * event loop turns again (near the heap limit): destinations that write synchronously get it
   * now, the others find it in the spool (sent after their next delivery, or by a later
   * process); without a spool it is queued as usual.
   */
  enqueueDurable(payload: ProfilePayload): void {
    if (this.closed) return;
    for (const lane of this.lanes) {
      if (this.sentSync(lane, payload)) continue;
      if (this.options.spool !== undefined) this.toSpool(lane, payload);
      else this.enqueueTo(lane, payload);
    }
  }

  /** spoolUsage: the spool's entries and bytes on disk; undefined without a spool. */
  spoolUsage(): { entries: number; bytes: number } | undefined {
    return this.options.spool?.usage();
  }

  /** queued: payloads held in memory, over all destinations. */
  queued(): number {
    return this.lanes.reduce((sum, lane) => sum + lane.items.length, 0);
  }

  /**
   * flush delivers what is queued before `deadlineMs` (a Date.now() time), with short
   * backoffs. With `close`, whatever is left then goes to the spool (see flushSync) and the
   * queue takes nothing more; without, delivery goes on as before.
   */
  async flush(deadlineMs: number, { close }: { close: boolean }): Promise<void> {
    if (this.closed) return;
    this.flushDeadline = deadlineMs;
    for (const lane of this.lanes) {
      clearTimeout(lane.retryTimer);
      lane.retryTimer = undefined;
      this.pump(lane);
    }
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()));
    });
    await Promise.race([this.isIdle() ? Promise.resolve() : idle, late]);
    clearTimeout(timer);
    if (close) {
      this.flushSync();
      return;
    }
    this.flushDeadline = undefined;
    for (const lane of this.lanes) this.pump(lane);
  }

  /**
   * flushSync ends delivery without the event loop (a final exit): requests in flight are
   * abandoned, destinations that can write synchronously (files) get their payloads now, and
   * the rest goes to the spool, or is dropped and counted when there is none.
   */
  flushSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const lane of this.lanes) {
      clearTimeout(lane.retryTimer);
      lane.inFlight?.abort();
      for (const item of lane.items.splice(0)) {
        if (item.spooled !== undefined) {
          this.options.spool?.release(item.spooled);
          continue;
        }
        if (!this.sentSync(lane, item.payload)) this.toSpool(lane, item.payload, 'exit');
      }
    }
    this.notifyIdle();
  }

  private enqueueTo(lane: Lane, payload: ProfilePayload): void {
    if (this.isDown(lane) && this.flushDeadline === undefined) {
      this.toSpool(lane, payload);
      return;
    }
    lane.items.push({ payload, spooled: undefined });
    while (lane.items.length > this.options.maxQueue) {
      // Never the payload in flight: it may be delivered yet, and then it would go twice.
      const [oldest] = lane.items.splice(lane.busy ? 1 : 0, 1) as [Item];
      if (oldest.spooled !== undefined) this.options.spool?.release(oldest.spooled);
      else this.toSpool(lane, oldest.payload, 'queue-full');
    }
    this.pump(lane);
  }

  /** sentSync delivers at once to a destination that can write synchronously; false when it cannot or failed (said once). */
  private sentSync(lane: Lane, payload: ProfilePayload): boolean {
    if (lane.destination.sendSync === undefined) return false;
    try {
      lane.destination.sendSync(payload);
      this.counters.delivered += 1;
      return true;
    } catch (error) {
      this.sayOnce(lane, (error as Error).message);
      return false;
    }
  }

  private isDown(lane: Lane): boolean {
    return this.options.spool !== undefined && lane.failures >= this.options.attemptsBeforeSpool;
  }

  private isIdle(): boolean {
    return this.lanes.every((lane) => lane.items.length === 0 && !lane.busy);
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.closed) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private pump(lane: Lane): void {
    if (this.closed || lane.busy || lane.retryTimer !== undefined) return;
    const item = lane.items[0];
    if (item === undefined) {
      this.notifyIdle();
      return;
    }
    lane.busy = true;
    const controller = new AbortController();
    lane.inFlight = controller;
    const limit = this.flushDeadline === undefined ? this.options.requestTimeoutMs : Math.min(this.options.requestTimeoutMs, this.flushDeadline - Date.now());
    const timeout = setTimeout(() => controller.abort(), Math.max(1, limit));
    timeout.unref();
    let sending: Promise<void>;
    try {
      sending = lane.destination.send(item.payload, controller.signal);
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(
      () => this.onSent(lane, item),
      (error: unknown) => this.onFailed(lane, item, error),
    ).finally(() => {
      clearTimeout(timeout);
      lane.busy = false;
      lane.inFlight = undefined;
      this.pump(lane);
    });
  }

  private onSent(lane: Lane, item: Item): void {
    if (lane.items[0] === item) lane.items.shift();
    if (item.spooled !== undefined) this.options.spool?.done(item.spooled);
    this.counters.delivered += 1;
    if (lane.failures > 0) this.options.report(`${lane.destination.id}: delivering again`);
    lane.failures = 0;
    for (const key of this.said) if (key.startsWith(`${lane.destination.id}\n`)) this.said.delete(key);
    this.refill(lane);  // spooled payloads are older than anything queued fresh: they go first
  }

  private onFailed(lane: Lane, item: Item, error: unknown): void {
    if (this.closed) return;
    const retryable = error instanceof DeliveryError ? error.retryable : true;
    const message = error instanceof Error ? error.message : String(error);
    this.counters.failedAttempts += 1;
    if (!retryable) {
      if (lane.items[0] === item) lane.items.shift();
      if (item.spooled !== undefined) this.options.spool?.done(item.spooled);
      this.counters.dropped.rejected += 1;
      this.sayOnce(lane, `${message} (not retried: the profile is dropped)`);
      // An answer, even a refusal, means the destination is up: what waits in the spool may go.
      lane.failures = 0;
      this.refill(lane);
      return;
    }
    lane.failures += 1;
    this.sayOnce(lane, `${message} (will retry${this.options.spool === undefined ? '' : ', then keep profiles in the spool'})`);
    if (this.isDown(lane) && this.flushDeadline === undefined) {
      // Keep one payload as the probe; the rest wait on disk.
      for (const waiting of lane.items.splice(1)) {
        if (waiting.spooled !== undefined) this.options.spool?.release(waiting.spooled);
        else this.toSpool(lane, waiting.payload);
      }
    }
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.min(lane.failures, 30));
    let delay = Math.random() * ceiling;
    if (this.flushDeadline !== undefined) delay = Math.min(delay, 250, Math.max(0, (this.flushDeadline - Date.now()) / 4));
    lane.retryTimer = setTimeout(() => {
      lane.retryTimer = undefined;
      this.pump(lane);
    }, delay);
    lane.retryTimer.unref();
  }

  /** refill moves a destination's spooled payloads back into its queue, oldest first. */
  private refill(lane: Lane): void {
    const spool = this.options.spool;
    // Refill during a flush too: a destination that comes back while the last profiles are
    // flushed must also get what was spooled while it was down (this run's periods, and the
    // final profiles, which go straight to the spool when the destination is down); otherwise
    // they wait on disk for a process that may never start. What the deadline leaves claimed
    // is released by flushSync. Not once closed: a claim then would never be released.
    if (spool === undefined || this.closed) return;
    const room = this.options.maxQueue - lane.items.length;
    if (room <= 0) return;
    const claimed = spool.claim(lane.destination.id, room);
    // Behind what came from the spool before (older still), ahead of what came fresh (newer).
    let at = 0;
    while (at < lane.items.length && (lane.items[at] as Item).spooled !== undefined) at += 1;
    lane.items.splice(at, 0, ...claimed.map((spooled) => ({ payload: spooled.payload, spooled })));
    if (claimed.length > 0) this.pump(lane);
  }

  private toSpool(lane: Lane, payload: ProfilePayload, reasonWithout: DropReason = 'queue-full'): void {
    const spool = this.options.spool;
    if (spool === undefined) {
      this.counters.dropped[reasonWithout] += 1;
      return;
    }
    const { stored, evicted } = spool.put(lane.destination.id, payload);
    this.counters.dropped['spool-full'] += evicted + (stored ? 0 : 1);
    if (stored) this.counters.spooled += 1;
    if (evicted > 0 || !stored) this.sayOnce(lane, `the spool at ${spool.dir} is full: the oldest profiles are dropped`);
  }

  /** sayOnce reports a problem of a destination once, until it delivers again. */
  private sayOnce(lane: Lane, message: string): void {
    const key = `${lane.destination.id}\n${message.replace(/\d+/g, '#')}`;
    if (this.said.has(key)) return;
    this.said.add(key);
    this.options.report(message);
  }
}
