// Reads the recorder's settings from environment variables (what `allocscope run` sets and `register` reads).
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_STACK_DEPTH } from '../heap/options';
import { MAX_SAMPLES_PER_SECOND } from '../native-heap/options';
import { parseBytes, parseCount, parseSeconds, UnitParseError } from '../util/parse-units';
import type { RecorderOptions } from './recorder';
import { defaultServiceName } from './service-name';

/** The environment variables of the recorder. */
export const ENV = {
  out: 'ALLOCSCOPE_OUT',
  upload: 'ALLOCSCOPE_UPLOAD',
  service: 'ALLOCSCOPE_SERVICE',
  labels: 'ALLOCSCOPE_LABELS',
  period: 'ALLOCSCOPE_PERIOD',
  heap: 'ALLOCSCOPE_HEAP',
  heapInterval: 'ALLOCSCOPE_HEAP_INTERVAL',
  heapDepth: 'ALLOCSCOPE_HEAP_DEPTH',
  native: 'ALLOCSCOPE_NATIVE',
  nativeInterval: 'ALLOCSCOPE_NATIVE_INTERVAL',
  nativeMaxRate: 'ALLOCSCOPE_NATIVE_MAX_RATE',
  keepFiles: 'ALLOCSCOPE_KEEP_FILES',
  keepBytes: 'ALLOCSCOPE_KEEP_BYTES',
  spool: 'ALLOCSCOPE_SPOOL',
  spoolBytes: 'ALLOCSCOPE_SPOOL_BYTES',
  flushTimeout: 'ALLOCSCOPE_FLUSH_TIMEOUT',
  uploadTimeout: 'ALLOCSCOPE_UPLOAD_TIMEOUT',
  handleStacks: 'ALLOCSCOPE_HANDLE_STACKS',
  nearHeapLimit: 'ALLOCSCOPE_NEAR_HEAP_LIMIT',
} as const;

/** Continuous mode's period when ALLOCSCOPE_UPLOAD is set and ALLOCSCOPE_PERIOD is not. */
export const DEFAULT_UPLOAD_PERIOD_SECONDS = 60;
export const DEFAULT_SPOOL_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FLUSH_TIMEOUT_SECONDS = 5;
export const DEFAULT_UPLOAD_TIMEOUT_SECONDS = 10;

/** defaultSpoolDir: one spool per service, shared by its processes, in the temporary directory. */
export function defaultSpoolDir(service: string): string {
  return path.join(os.tmpdir(), 'allocscope-spool', service.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** enabled reads a switch: unset or 1 means on, 0 off; anything else is an error. */
function enabled(name: string, text: string | undefined): boolean {
  if (text === undefined || text === '1') return true;
  if (text === '0') return false;
  throw new UnitParseError(`${name} must be 0 (off) or 1 (on), got '${text}'`);
}

/** parseLabels reads `k=v,k2=v2` (names as Prometheus spells them; values without commas). */
export function parseLabels(name: string, text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$/.exec(pair);
    if (match === null) throw new UnitParseError(`${name} must be k=v pairs separated by commas, e.g. env=prod,region=eu; got '${pair}'`);
    labels[match[1] as string] = (match[2] as string).trim();
  }
  return labels;
}

/**
 * recorderOptionsFromEnv parses the variables in ENV (empty counts as unset); it throws
 * UnitParseError naming the variable when one is malformed. Profiles go to ALLOCSCOPE_UPLOAD's
 * destinations and to ALLOCSCOPE_OUT's directory; with neither, to ./allocscope-profiles.
 */
export function recorderOptionsFromEnv(env: NodeJS.ProcessEnv, report: (message: string) => void): RecorderOptions {
  const read = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]?.trim());
  const period = read(ENV.period);
  const interval = read(ENV.heapInterval);
  const depth = read(ENV.heapDepth);
  const nativeInterval = read(ENV.nativeInterval);
  const nativeMaxRate = read(ENV.nativeMaxRate);
  const upload = read(ENV.upload);
  const out = read(ENV.out);
  const service = read(ENV.service) ?? defaultServiceName();
  const spool = read(ENV.spool);
  const keepFiles = read(ENV.keepFiles);
  const keepBytes = read(ENV.keepBytes);
  const flushTimeout = read(ENV.flushTimeout);
  const uploadTimeout = read(ENV.uploadTimeout);
  const destinations = [...(upload === undefined ? [] : upload.split(',')), ...(out === undefined && upload !== undefined ? [] : [path.resolve(out ?? 'allocscope-profiles')])];
  return {
    service,
    labels: parseLabels(ENV.labels, read(ENV.labels) ?? ''),
    periodSeconds: period !== undefined ? parseSeconds(ENV.period, period) : upload !== undefined ? DEFAULT_UPLOAD_PERIOD_SECONDS : undefined,
    heap: !enabled(ENV.heap, read(ENV.heap))
      ? undefined
      : {
          ...(interval === undefined ? {} : { intervalBytes: parseBytes(ENV.heapInterval, interval) }),
          ...(depth === undefined ? {} : { stackDepth: parseCount(ENV.heapDepth, depth, 1, MAX_STACK_DEPTH) }),
        },
    native: !enabled(ENV.native, read(ENV.native))
      ? undefined
      : {
          ...(nativeInterval === undefined ? {} : { intervalBytes: parseBytes(ENV.nativeInterval, nativeInterval) }),
          ...(nativeMaxRate === undefined ? {} : { maxSamplesPerSecond: parseCount(ENV.nativeMaxRate, nativeMaxRate, 0, MAX_SAMPLES_PER_SECOND) }),
        },
    destinations,
    retention: {
      ...(keepFiles === undefined ? {} : { maxFiles: parseCount(ENV.keepFiles, keepFiles, 1, Number.MAX_SAFE_INTEGER) }),
      ...(keepBytes === undefined ? {} : { maxBytes: parseBytes(ENV.keepBytes, keepBytes) }),
    },
    spool: spool === '0'
      ? undefined
      : {
          dir: path.resolve(spool ?? defaultSpoolDir(service)),
          maxBytes: parseBytes(ENV.spoolBytes, read(ENV.spoolBytes) ?? String(DEFAULT_SPOOL_BYTES)),
        },
    flushTimeoutMs: 1000 * parseSeconds(ENV.flushTimeout, flushTimeout ?? String(DEFAULT_FLUSH_TIMEOUT_SECONDS)),
    requestTimeoutMs: 1000 * parseSeconds(ENV.uploadTimeout, uploadTimeout ?? String(DEFAULT_UPLOAD_TIMEOUT_SECONDS)),
    handleStacks: read(ENV.handleStacks) !== undefined && enabled(ENV.handleStacks, read(ENV.handleStacks)),
    nearHeapLimit: enabled(ENV.nearHeapLimit, read(ENV.nearHeapLimit)),
    report,
  };
}
