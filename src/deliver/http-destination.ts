// Uploads profiles over HTTP(S): to Pyroscope's /ingest API, or as a plain POST with X-Allocscope-* headers.
import * as http from 'node:http';
import * as https from 'node:https';
import { VERSION } from '../version';
import { DeliveryError, retryableStatus, type Destination } from './destination';
import type { ProfilePayload } from './payload';

/** The query parameters allocscope sets in Pyroscope mode; a user's own values for them are replaced. */
const PYROSCOPE_PARAMS = ['name', 'from', 'until', 'format', 'spyName'] as const;

/** How much of an error answer's body goes into the message: enough for a reason, not a page of HTML. */
const ERROR_BODY_CHARS = 200;

/** Words for the transport errors people meet; the code is always added, so unknown codes still say something. */
const NETWORK_MESSAGES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

interface Target {
  /** The URL without userinfo: what the request goes to and what `id` shows. */
  url: URL;
  pyroscope: boolean;
  /** Authorization and X-Scope-OrgID, fixed at construction. */
  fixedHeaders: Record<string, string>;
}

/**
 * createHttpDestination checks `url` and reads ALLOCSCOPE_AUTH_TOKEN and ALLOCSCOPE_TENANT from
 * `env` once; it throws an Error naming the URL (without its password) when either is unusable.
 */
export function createHttpDestination(url: string, env: NodeJS.ProcessEnv): Destination {
  const target = parseTarget(url, env);
  const id = target.url.href;
  return {
    id,
    send(payload: ProfilePayload, signal: AbortSignal): Promise<void> {
      // Anything thrown while building the request (a bad date, a header Node refuses) must
      // reach the caller as a rejection, like every other failure.
      try {
        const requestUrl = target.pyroscope ? pyroscopeUrl(target.url, payload) : target.url;
        const headers = { ...target.fixedHeaders, ...(target.pyroscope ? {} : plainHeaders(payload)) };
        return post(id, requestUrl, headers, payload.bytes, signal);
      } catch (error) {
        return Promise.reject(new DeliveryError(`${id}: cannot build the request: ${messageOf(error)}`, false, { cause: error }));
      }
    },
  };
}

/** parseTarget validates the URL and settles everything about the destination that does not change per payload. */
function parseTarget(text: string, env: NodeJS.ProcessEnv): Target {
  const url = parseUrl(text);
  const fixedHeaders: Record<string, string> = { 'User-Agent': `allocscope/${VERSION}` };
  const token = nonEmpty(env['ALLOCSCOPE_AUTH_TOKEN']);
  if (token !== undefined) {
    fixedHeaders['Authorization'] = `Bearer ${headerSafeSetting('ALLOCSCOPE_AUTH_TOKEN', token)}`;
  } else if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeUserinfo(url.username, text)}:${decodeUserinfo(url.password, text)}`;
    fixedHeaders['Authorization'] = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  const tenant = nonEmpty(env['ALLOCSCOPE_TENANT']);
  if (tenant !== undefined) fixedHeaders['X-Scope-OrgID'] = headerSafeSetting('ALLOCSCOPE_TENANT', tenant);
  // The credentials now live in a header only: the URL is shown in logs and spool files.
  url.username = '';
  url.password = '';
  url.hash = '';
  return { url, pyroscope: url.pathname.endsWith('/ingest'), fixedHeaders };
}

/** parseUrl accepts absolute http:// and https:// URLs; its errors show the URL with any password hidden. */
function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${redactPassword(text)}' is not a valid URL (expected http://host[:port]/path or https://...)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`'${redactPassword(text)}' is not an http:// or https:// URL`);
  }
  return url;
}

/** redactPassword hides `user:password@` in text that may not even parse as a URL. */
function redactPassword(text: string): string {
  return text.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
}

/** decodeUserinfo undoes the URL's percent-encoding of a user name or password (`p%40ss` is `p@ss`). */
function decodeUserinfo(part: string, text: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`'${redactPassword(text)}' has badly percent-encoded credentials`);
  }
}

/** headerSafeSetting rejects values Node would refuse as a header, naming the variable but not the (secret) value. */
function headerSafeSetting(name: string, value: string): string {
  const trimmed = value.trim();
  if (!/^[\x20-\x7e]+$/.test(trimmed)) throw new Error(`${name} must be printable ASCII on one line`);
  return trimmed;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

// ---- Pyroscope mode ----

/** pyroscopeUrl adds name, from, until, format and spyName to the user's URL, keeping the user's other parameters. */
function pyroscopeUrl(base: URL, payload: ProfilePayload): URL {
  const url = new URL(base.href);
  for (const param of PYROSCOPE_PARAMS) url.searchParams.delete(param);
  const from = Math.floor(payload.startMs / 1000);
  const until = Math.max(Math.ceil(payload.endMs / 1000), from + 1);
  url.searchParams.set('name', pyroscopeName(payload));
  url.searchParams.set('from', String(from));
  url.searchParams.set('until', String(until));
  url.searchParams.set('format', 'pprof');
  url.searchParams.set('spyName', 'allocscope');
  return url;
}

/**
 * pyroscopeName is `service{__delta__=false,heap=js,k=v,...}`. `__delta__=false` because the
 * alloc_* values are already per period: Pyroscope would otherwise subtract consecutive profiles.
 * `heap` keeps the JS and native profiles apart as two series.
 */
function pyroscopeName(payload: ProfilePayload): string {
  const labels: Array<[string, string]> = [
    ['__delta__', 'false'],
    ['heap', payload.heap],
  ];
  const taken = new Set(labels.map(([name]) => name));
  for (const [rawName, value] of Object.entries(payload.labels)) {
    const name = rawName.replace(/[^a-zA-Z0-9_.]/g, '_');
    // A user label that would shadow ours (or repeat one) would make the series key ambiguous.
    if (name === '' || taken.has(name)) continue;
    taken.add(name);
    labels.push([name, pyroscopeValue(value)]);
  }
  return `${pyroscopeValue(payload.service)}{${labels.map(([name, value]) => `${name}=${value}`).join(',')}}`;
}

/** pyroscopeValue replaces the characters that delimit Pyroscope's `name{k=v,...}` syntax. */
function pyroscopeValue(text: string): string {
  return text.replace(/[,{}=\s]/g, '_');
}

// ---- plain mode ----

/** plainHeaders describe the payload for a receiver that only sees the bytes. */
function plainHeaders(payload: ProfilePayload): Record<string, string> {
  const headers: Record<string, string> = {
    'X-Allocscope-Service': headerValue(payload.service),
    'X-Allocscope-Heap': payload.heap,
    'X-Allocscope-Start': new Date(payload.startMs).toISOString(),
    'X-Allocscope-End': new Date(payload.endMs).toISOString(),
    'X-Allocscope-Host': headerValue(payload.host),
    'X-Allocscope-Pid': String(payload.pid),
    'X-Allocscope-Thread': String(payload.threadId),
    'X-Allocscope-Sequence': String(payload.sequence),
  };
  for (const [rawName, value] of Object.entries(payload.labels)) {
    const name = rawName.replace(/[^A-Za-z0-9-]/g, '-');
    if (name.replace(/-/g, '') === '') continue;
    headers[`X-Allocscope-Label-${name}`] = headerValue(value);
  }
  return headers;
}

/**
 * headerValue percent-encodes (as UTF-8) everything outside visible ASCII, and `%` itself, so any
 * text becomes a valid header value that decodeURIComponent restores exactly. Spaces are encoded
 * too: HTTP would trim them at the ends.
 */
function headerValue(text: string): string {
  return text.replace(/[^\x21-\x24\x26-\x7e]/gu, percentEncode);
}

/** percentEncode encodes one character; a lone surrogate (not encodable) becomes U+FFFD rather than failing the send. */
function percentEncode(char: string): string {
  try {
    return encodeURIComponent(char);
  } catch {
    return '%EF%BF%BD';
  }
}

// ---- the request ----

/**
 * post sends one POST and settles once. `agent: false` gives every upload its own connection:
 * uploads are a minute or so apart, longer than most servers keep an idle connection, so a
 * pooled socket would mostly be stale (and fail with ECONNRESET when reused just as the server
 * closes it), and no idle socket is left behind to hold the application's event loop open.
 */
function post(
  id: string,
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(timeLimitError(id, signal));
      return;
    }
    let settled = false;
    let response: http.IncomingMessage | undefined;
    const settle = (error?: DeliveryError): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    // Node's own `signal` handling destroys the request; destroying both sides here as well makes
    // sure a server that took the body and never answers cannot keep the socket (or us) waiting.
    const onAbort = (): void => {
      settle(timeLimitError(id, signal));
      request.destroy();
      response?.destroy();
    };
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, {
      method: 'POST',
      agent: false,
      signal,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ...headers },
    });
    signal.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => settle(signal.aborted ? timeLimitError(id, signal) : networkError(id, error)));
    request.on('response', (answer) => {
      response = answer;
      readAnswer(id, answer, signal, settle);
    });
    request.end(body);
  });
}

/** readAnswer drains the response (keeping the start of an error body) and settles by its status. */
function readAnswer(
  id: string,
  response: http.IncomingMessage,
  signal: AbortSignal,
  settle: (error?: DeliveryError) => void,
): void {
  const status = response.statusCode ?? 0;
  const ok = status >= 200 && status < 300;
  const chunks: Buffer[] = [];
  let kept = 0;
  response.on('data', (chunk: Buffer) => {
    // A few KiB is plenty for ~200 characters of text; the rest is read and dropped.
    if (ok || kept >= 4096) return;
    chunks.push(chunk);
    kept += chunk.length;
  });
  const finish = (): void => {
    if (signal.aborted) settle(timeLimitError(id, signal));
    else settle(ok ? undefined : statusError(id, response, Buffer.concat(chunks)));
  };
  response.on('end', finish);
  // A body cut short after a 2xx still means the server took the profile: sending it again would duplicate it.
  response.on('error', finish);
  response.on('close', finish);
}

/** statusError words a non-2xx answer, with the start of its body as the server's reason. */
function statusError(id: string, response: http.IncomingMessage, body: Buffer): DeliveryError {
  const status = response.statusCode ?? 0;
  const statusLine = [`HTTP ${status}`, response.statusMessage].filter(Boolean).join(' ');
  const location = status >= 300 && status < 400 && response.headers.location ? ` (redirects to ${response.headers.location})` : '';
  const reason = bodySnippet(body);
  return new DeliveryError(`${id}: ${statusLine}${location}${reason === '' ? '' : `: ${reason}`}`, retryableStatus(status));
}

/** bodySnippet turns the start of a body into one line of at most ~200 characters. */
function bodySnippet(body: Buffer): string {
  const text = body.toString('utf8').replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
  return text.length <= ERROR_BODY_CHARS ? text : `${text.slice(0, ERROR_BODY_CHARS)}…`;
}

/**
 * networkError: every transport failure is worth another try, because the network, the server or
 * DNS can come back. That includes ENOTFOUND: a name missing now may be a DNS outage or a service
 * not yet deployed, and dropping profiles for it would lose data a retry could deliver.
 */
function networkError(id: string, error: Error): DeliveryError {
  const code = (error as NodeJS.ErrnoException).code;
  const words = error.message === 'socket hang up' ? 'the server closed the connection without answering' : NETWORK_MESSAGES[code ?? ''] ?? error.message;
  return new DeliveryError(`${id}: ${words}${code === undefined ? '' : ` (${code})`}`, true, { cause: error });
}

/** timeLimitError: the caller aborted (its per-request timeout, or shutdown); a later try may be answered. */
function timeLimitError(id: string, signal: AbortSignal): DeliveryError {
  return new DeliveryError(`${id}: no answer within the time limit`, true, { cause: signal.reason });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
