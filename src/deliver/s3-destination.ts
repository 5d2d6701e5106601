// Delivers profiles as objects in an S3 bucket (or an S3-compatible store), one PutObject per profile.
import type { PutObjectCommand, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { DeliveryError, retryableStatus, type Destination } from './destination';
import { profileKindOf, type ProfilePayload } from './payload';

/** Where an `s3://bucket/prefix` destination puts objects; `prefix` has no slash at either end and may be empty. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** What this file uses of @aws-sdk/client-s3, which is an optional dependency loaded on first use. */
interface S3Sdk {
  S3Client: typeof S3Client;
  PutObjectCommand: typeof PutObjectCommand;
}

const SDK_PACKAGE = '@aws-sdk/client-s3';

/** parseS3Url splits `s3://bucket/prefix`; it throws a one-line Error a user can act on for anything else. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]*)(.*)$/i.exec(url);
  if (match === null) throw new Error(`${url}: not an S3 URL, expected s3://bucket/prefix`);
  const bucket = match[1] ?? '';
  if (bucket === '') throw new Error(`${url}: missing the bucket name, e.g. s3://my-bucket/profiles`);
  // Empty segments (`a//b`, a trailing slash) would make keys that some S3 tools cannot list or download.
  const prefix = (match[2] ?? '').split('/').filter((segment) => segment !== '').join('/');
  return { bucket, prefix };
}

/**
 * s3ObjectKey names a payload's object: `<prefix>/<service>/<heap|native|handles>/<yyyy>/<mm>/<dd>/<time>-<host>-<pid>-<seq>.pb.gz`,
 * dated by the end of the period in UTC, so a day's profiles of one service list together and sort by time.
 */
export function s3ObjectKey(prefix: string, payload: ProfilePayload): string {
  const end = new Date(payload.endMs).toISOString();
  const [year, month, day] = end.slice(0, 10).split('-');
  const thread = payload.threadId === 0 ? '' : `-w${payload.threadId}`;
  const sequence = String(payload.sequence).padStart(4, '0');
  const file = `${end.replace(/:/g, '-')}-${keySegment(payload.host)}-${payload.pid}${thread}-${sequence}.pb.gz`;
  const segments = [keySegment(payload.service), profileKindOf(payload.heap), year, month, day, file];
  return (prefix === '' ? segments : [prefix, ...segments]).join('/');
}

/** keySegment keeps a name to one path segment: a `/` in a service or host name would add levels to the key. */
function keySegment(name: string): string {
  const safe = name.replace(/[/\\\x00-\x1f\x7f]/g, '-');
  // `.`, `..` and empty segments are resolved away or dropped by tools that treat keys as paths.
  return /^\.*$/.test(safe) ? `_${safe}` : safe;
}

/**
 * s3Metadata is the object's user metadata: the labels, then `heap`, `service`, `pid`, `host`,
 * `start` and `end`, which win over labels of the same name. S3 sends metadata as HTTP headers
 * and keeps only US-ASCII, so keys are reduced to [a-z0-9-_] and other characters in values are
 * percent-encoded (as UTF-8).
 */
export function s3Metadata(payload: ProfilePayload): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.labels)) {
    const safeKey = key.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
    if (safeKey !== '') metadata[safeKey] = metadataValue(value);
  }
  metadata['heap'] = payload.heap;
  metadata['service'] = metadataValue(payload.service);
  metadata['pid'] = String(payload.pid);
  metadata['host'] = metadataValue(payload.host);
  metadata['start'] = new Date(payload.startMs).toISOString();
  metadata['end'] = new Date(payload.endMs).toISOString();
  return metadata;
}

/** metadataValue percent-encodes what is not printable ASCII; Buffer (not encodeURIComponent) copes with lone surrogates. */
function metadataValue(value: string): string {
  return value.replace(/[^\x20-\x7e]+/g, (run) =>
    Array.from(Buffer.from(run, 'utf8'), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** loadSdk requires the SDK when an s3:// destination is configured, so allocscope does not depend on it. */
function loadSdk(): S3Sdk {
  try {
    return require(SDK_PACKAGE) as S3Sdk;
  } catch (error) {
    throw new Error(`s3:// destinations need the ${SDK_PACKAGE} package: npm install ${SDK_PACKAGE}`, { cause: error });
  }
}

/**
 * s3ClientConfig reads the region and endpoint from `env`; credentials are the SDK's default chain
 * (environment, shared config files, SSO, container and instance roles), except that keys in
 * `env` are used directly so that `env` is what counts even when it is not process.env.
 */
export function s3ClientConfig(env: NodeJS.ProcessEnv): S3ClientConfig {
  const endpoint = env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'];
  const config: S3ClientConfig = {
    region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1',
    // The delivery queue retries with backoff and keeps the payload meanwhile; SDK retries inside one send would only stretch its timeout.
    maxAttempts: 1,
  };
  // S3-compatible stores (MinIO, s3rver, ...) rarely resolve `bucket.host` names: address buckets in the path.
  if (endpoint) Object.assign(config, { endpoint, forcePathStyle: true });
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (accessKeyId && secretAccessKey) {
    const sessionToken = env['AWS_SESSION_TOKEN'];
    config.credentials = sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
  }
  return config;
}

/**
 * createS3Destination delivers to `s3://bucket/prefix`. A bad URL or a missing SDK throws here,
 * at start; each send is one PutObject whose failures become DeliveryErrors.
 */
export function createS3Destination(url: string, env: NodeJS.ProcessEnv): Destination {
  const { bucket, prefix } = parseS3Url(url);
  const sdk = loadSdk();
  const client = new sdk.S3Client(s3ClientConfig(env));
  return {
    id: url,
    send: async (payload, signal) => {
      const command = new sdk.PutObjectCommand({
        Bucket: bucket,
        Key: s3ObjectKey(prefix, payload),
        Body: payload.bytes,
        // No ContentEncoding: with `gzip` there, downloads would unpack the .pb.gz on the way.
        ContentType: 'application/octet-stream',
        Metadata: s3Metadata(payload),
      });
      try {
        await client.send(command, { abortSignal: signal });
      } catch (error) {
        // An abort is the queue's timeout or shutdown, not the store's answer: the payload may go again later.
        if (signal.aborted) throw new DeliveryError(`${url}: ${describeAbort(signal)}`, true, { cause: error });
        throw new DeliveryError(`${url}: ${describeS3Error(error)}`, retryableS3Error(error), { cause: error });
      }
    },
  };
}

/** The parts of an SDK or network error this file reads. */
interface S3ErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Network failures that say nothing about the request itself: the next try may well get through. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ESOCKETTIMEDOUT',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND',
]);

/** Errors S3 reports with a 4xx that pass with time: a slow upload, throttling, a clock the SDK corrects from the reply. */
const TRANSIENT_ERROR_NAMES = new Set([
  'AbortError', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'Throttling',
  'ThrottlingException', 'RequestThrottled', 'RequestTimeTooSkewed', 'RequestExpired',
]);

/** retryableS3Error: throttling, server errors, timeouts and network failures are; 4xx answers like NoSuchBucket are not. */
export function retryableS3Error(error: unknown): boolean {
  const { name, code, $retryable, $metadata } = (error ?? {}) as S3ErrorShape;
  if ($retryable) return true;
  if (name !== undefined && TRANSIENT_ERROR_NAMES.has(name)) return true;
  const status = $metadata?.httpStatusCode;
  if (status !== undefined) return retryableStatus(status);
  return code !== undefined && TRANSIENT_NETWORK_CODES.has(code);
}

/** describeS3Error: `NoSuchBucket: The specified bucket does not exist`, or the network error's message. */
function describeS3Error(error: unknown): string {
  const { name, message, code, $metadata } = (error ?? {}) as S3ErrorShape;
  const status = $metadata?.httpStatusCode;
  // Node's connection errors for a host with several addresses are AggregateErrors with an empty message.
  const reason = message || code || (status === undefined ? String(error) : `HTTP ${status}`);
  // The SDK names service errors by their S3 code; for plain `Error`s the name adds nothing.
  return name !== undefined && name !== 'Error' && !reason.startsWith(name) ? `${name}: ${reason}` : reason;
}

/** describeAbort: `request aborted`, with the reason when the signal has one of its own (e.g. AbortSignal.timeout's). */
function describeAbort(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const said = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return `request aborted${said}`;
}
