// Registers allocscope's gauges and counters in prom-client's default registry, when the application has prom-client.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { native } from '../native-heap/native-profiler';
import type { Recorder } from './recorder';

/** The part of prom-client used here (it is the application's package, not our dependency). */
interface PromClient {
  register: { getSingleMetric(name: string): unknown };
  Gauge: new (config: { name: string; help: string; labelNames?: string[]; collect?: (this: GaugeLike) => void }) => GaugeLike;
}
interface GaugeLike {
  set(value: number): void;
  set(labels: Record<string, string>, value: number): void;
}

/**
 * loadedPromClient returns prom-client if the application has loaded it, found as the
 * application would find it: from its main script, else from the working directory (two copies
 * of prom-client have two default registries, so ours must be the application's). allocscope
 * never loads it itself: an application that does not use it would carry its modules and
 * objects, and on a small heap a few MB more can keep V8 collecting
 * (docs/performance.md).
 */
function loadedPromClient(): PromClient | undefined {
  const bases = [require.main?.filename, path.join(process.cwd(), 'index.js')].filter((b): b is string => b !== undefined);
  for (const base of bases) {
    let resolved: string;
    try {
      resolved = createRequire(base).resolve('prom-client');
    } catch {
      continue; // not there: try the next place
    }
    const loaded = require.cache[resolved];
    return loaded?.loaded === true ? (loaded.exports as PromClient) : undefined;
  }
  return undefined;
}

/**
 * registerMetrics adds the gauges once per process, when the application has loaded
 * prom-client; their values are read when Prometheus scrapes (collect callbacks), so nothing
 * runs between scrapes. Counts that only grow (samples, uploads, drops) are exported as gauges of
 * running totals, named `_total` as Prometheus counters are, because prom-client's counters
 * cannot be set from a total. Returns whether allocscope's metrics are in the application's
 * registry; the recorder asks again each period until they are (`-r allocscope/register` starts
 * before the application loads anything).
 */
export function registerMetrics(recorder: Recorder): boolean {
  const prom = loadedPromClient();
  if (prom === undefined) return false;
  if (prom.register.getSingleMetric('allocscope_native_inuse_bytes') !== undefined) return true;
  const gauge = (name: string, help: string, read: () => number | undefined, labelNames?: string[]): void => {
    new prom.Gauge({
      name, help, ...(labelNames === undefined ? {} : { labelNames }),
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  };
  const queue = (): Recorder['deliveryQueue'] => recorder.deliveryQueue;
  gauge('allocscope_native_inuse_bytes', 'Native (malloc) memory in use, estimated from the last native profile', () => recorder.lastInuseBytes.native);
  gauge('allocscope_js_heap_inuse_bytes', 'JS heap memory in use, estimated from the last JS heap profile', () => recorder.lastInuseBytes.js);
  gauge('allocscope_native_samples_total', 'Native allocations sampled since profiling started', () => (native.isRunning() ? native.stats().samples : undefined));
  gauge('allocscope_native_dropped_samples_total', 'Native samples lost because a buffer or table was full', () => {
    if (!native.isRunning()) return undefined;
    const s = native.stats();
    return s.droppedRingFull + s.droppedTableFull + s.droppedStackTableFull;
  });
  gauge('allocscope_uploads_total', 'Profiles delivered to a destination', () => queue()?.counters.delivered);
  gauge('allocscope_upload_failures_total', 'Delivery attempts that failed (each retry counts)', () => queue()?.counters.failedAttempts);
  new prom.Gauge({
    name: 'allocscope_upload_dropped_total', help: 'Profiles finally not delivered, by reason', labelNames: ['reason'],
    collect() {
      for (const [reason, count] of Object.entries(queue()?.counters.dropped ?? {})) this.set({ reason }, count);
    },
  });
  gauge('allocscope_upload_queue_length', 'Profiles waiting in memory for delivery', () => queue()?.queued());
  gauge('allocscope_spool_bytes', 'Bytes of profiles waiting in the on-disk spool', () => queue()?.spoolUsage()?.bytes);
  return true;
}
