// startContinuous: the API of continuous profiling (what `-r allocscope/register` with ALLOCSCOPE_UPLOAD does from the environment).
import * as path from 'node:path';
import type { DeliveryCounters } from '../deliver/delivery-queue';
import type { Retention } from '../deliver/file-destination';
import { DestinationConfigError } from '../deliver/parse-destinations';
import { AllocscopeError } from '../errors';
import type { HeapProfilerOptions } from '../heap/options';
import type { NativeProfilerOptions } from '../native-heap/options';
import { defaultSpoolDir, DEFAULT_FLUSH_TIMEOUT_SECONDS, DEFAULT_SPOOL_BYTES, DEFAULT_UPLOAD_PERIOD_SECONDS, DEFAULT_UPLOAD_TIMEOUT_SECONDS } from './env-config';
import { Recorder } from './recorder';
import { defaultServiceName } from './service-name';

export interface ContinuousOptions {
  /** Destinations: directories, file://, s3://bucket/prefix, http(s)://.../ingest (Pyroscope) or other http(s) URLs. */
  upload: string | readonly string[];
  /** Default: the nearest package.json's name above the main script, else the script's name. */
  service?: string;
  labels?: Record<string, string>;
  /** Seconds between profile pairs (default 60). */
  periodSeconds?: number;
  /** JS heap profiling options, or false for none. */
  heap?: HeapProfilerOptions | false;
  /** Native profiling options, or false for none. */
  native?: NativeProfilerOptions | false;
  /** What directory destinations keep. */
  retention?: Retention;
  /** Where undelivered profiles wait (default: <tmpdir>/allocscope-spool/<service>, 64 MiB), or false for nowhere. */
  spool?: { dir?: string; maxBytes?: number } | false;
  /** How long the last profiles may take at stop() and at exit (default 5 s). */
  flushTimeoutSeconds?: number;
  /** One request's time limit (default 10 s). */
  uploadTimeoutSeconds?: number;
  /** Keep the creation stack of every live async resource (timers, sockets) for the handles profile (default false: it costs a stack capture per resource). */
  handleStacks?: boolean;
  /** Write a profile pair when the JS heap nears V8's limit, before an out-of-memory crash (default true). */
  nearHeapLimit?: boolean;
  /** Where delivery problems are reported (default: one line on stderr each). */
  report?: (message: string) => void;
}

export interface ContinuousHandle {
  /** Takes a profile pair now and waits (up to the flush timeout) until everything queued is delivered. */
  flush(): Promise<void>;
  /** Takes the last pair, stops profiling and delivers within the flush timeout; the rest stays in the spool. */
  stop(): Promise<void>;
  /** What was delivered, retried, spooled and dropped so far. */
  counters(): DeliveryCounters;
}

/**
 * startContinuous starts JS heap and native profiling of this thread (native: of the process,
 * from the main thread) and delivers a profile pair every period and at exit. Bad options
 * throw AllocscopeError ERR_USAGE, and nothing is started.
 */
export function startContinuous(options: ContinuousOptions): ContinuousHandle {
  const service = options.service ?? defaultServiceName();
  const spool = options.spool === false ? undefined : {
    dir: path.resolve(options.spool?.dir ?? defaultSpoolDir(service)),
    maxBytes: options.spool?.maxBytes ?? DEFAULT_SPOOL_BYTES,
  };
  const recorder = new Recorder({
    service,
    labels: options.labels ?? {},
    periodSeconds: options.periodSeconds ?? DEFAULT_UPLOAD_PERIOD_SECONDS,
    heap: options.heap === false ? undefined : options.heap ?? {},
    native: options.native === false ? undefined : options.native ?? {},
    destinations: typeof options.upload === 'string' ? options.upload.split(',') : options.upload,
    retention: options.retention ?? {},
    spool,
    flushTimeoutMs: 1000 * (options.flushTimeoutSeconds ?? DEFAULT_FLUSH_TIMEOUT_SECONDS),
    requestTimeoutMs: 1000 * (options.uploadTimeoutSeconds ?? DEFAULT_UPLOAD_TIMEOUT_SECONDS),
    handleStacks: options.handleStacks ?? false,
    nearHeapLimit: options.nearHeapLimit ?? true,
    report: options.report ?? ((message) => process.stderr.write(`allocscope: ${message}\n`)),
  });
  try {
    recorder.start();
  } catch (error) {
    if (error instanceof DestinationConfigError) throw new AllocscopeError('ERR_USAGE', error.message, { cause: error });
    throw error;
  }
  return {
    flush: () => recorder.flush(),
    stop: () => recorder.stop(),
    counters: () => ({ ...(recorder.deliveryQueue?.counters as DeliveryCounters) }),
  };
}
