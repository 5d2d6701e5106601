// HTTP upload destinations against a real server: Pyroscope's /ingest form, plain POST, auth, and how failures are classed.
'use strict';
const { describe, it, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { createHttpDestination } = require('../../dist/deliver/http-destination.js');
const { DeliveryError } = require('../../dist/deliver/destination.js');
const { startIngestServer } = require('../support/ingest-server.js');

/** The destination never parses the bytes, so any Buffer stands in for a gzipped pprof file. */
function payload(overrides = {}) {
  return {
    service: 'svc',
    heap: 'native',
    labels: { env: 'test' },
    startMs: 1_700_000_000_250,
    endMs: 1_700_000_060_250,
    host: 'box-1',
    pid: 4242,
    threadId: 0,
    sequence: 7,
    bytes: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 255]),
    ...overrides,
  };
}

function send(destination, signal = AbortSignal.timeout(5000), overrides = {}) {
  return destination.send(payload(overrides), signal);
}

/** rejection awaits a send that must fail and returns its DeliveryError. */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DeliveryError, `expected a DeliveryError, got ${error}`);
    return error;
  }
  assert.fail('the send resolved');
}

let server;
before(async () => {
  server = await startIngestServer();
});
after(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.script(() => 'ok');
});

describe('Pyroscope mode (URL path ends in /ingest)', () => {
  it('posts the bytes with name{labels}, from, until and format, keeping the user query', async () => {
    const destination = createHttpDestination(`${server.url}/ingest?sampleRate=100`, {});
    await send(destination);
    assert.equal(server.requests.length, 1);
    const [request] = server.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/ingest');
    assert.equal(request.query.name, 'svc{__delta__=false,heap=native,env=test}');
    assert.equal(request.query.from, '1700000000');
    assert.equal(request.query.until, '1700000061');
    assert.equal(request.query.format, 'pprof');
    assert.equal(request.query.spyName, 'allocscope');
    assert.equal(request.query.sampleRate, '100');
    assert.deepEqual(request.body, payload().bytes);
    assert.equal(request.headers['content-type'], 'application/octet-stream');
    assert.equal(request.headers['content-length'], String(payload().bytes.length));
    assert.equal(request.headers.authorization, undefined);
  });

  it('makes label names and values safe for the name{k=v} syntax, and until at least from+1', async () => {
    const destination = createHttpDestination(`${server.url}/ingest`, {});
    await send(destination, undefined, {
      heap: 'js',
      service: 'my svc',
      labels: { 'team-name': 'a,b{c}=d e', heap: 'shadow' },
      startMs: 1_700_000_000_000,
      endMs: 1_700_000_000_000,
    });
    const { query } = server.requests[0];
    assert.equal(query.name, 'my_svc{__delta__=false,heap=js,team_name=a_b_c__d_e}');
    assert.equal(query.from, '1700000000');
    assert.equal(query.until, '1700000001');
  });

  it('sends a Bearer token from ALLOCSCOPE_AUTH_TOKEN and the tenant from ALLOCSCOPE_TENANT', async () => {
    const destination = createHttpDestination(`${server.url}/ingest`, {
      ALLOCSCOPE_AUTH_TOKEN: 'tok-123',
      ALLOCSCOPE_TENANT: 'team-a',
    });
    await send(destination);
    assert.equal(server.requests[0].headers.authorization, 'Bearer tok-123');
    assert.equal(server.requests[0].headers['x-scope-orgid'], 'team-a');
  });

  it('uses the URL userinfo as Basic auth and keeps the password out of the id', async () => {
    const withUser = server.url.replace('http://', 'http://alice:s%40cret@');
    const destination = createHttpDestination(`${withUser}/ingest`, {});
    assert.equal(destination.id, `${server.url}/ingest`);
    assert.doesNotMatch(destination.id, /alice|cret/);
    await send(destination);
    const expected = `Basic ${Buffer.from('alice:s@cret').toString('base64')}`;
    assert.equal(server.requests[0].headers.authorization, expected);
  });

  it('prefers the Bearer token over URL userinfo', async () => {
    const withUser = server.url.replace('http://', 'http://alice:secret@');
    const destination = createHttpDestination(`${withUser}/ingest`, { ALLOCSCOPE_AUTH_TOKEN: 'tok' });
    await send(destination);
    assert.equal(server.requests[0].headers.authorization, 'Bearer tok');
    assert.doesNotMatch(destination.id, /secret/);
  });
});

describe('plain mode (any other URL)', () => {
  it('posts the bytes to the URL with X-Allocscope-* headers', async () => {
    const destination = createHttpDestination(`${server.url}/profiles/upload?k=v`, { ALLOCSCOPE_TENANT: 't1' });
    await send(destination, undefined, { labels: { env: 'test', 'region/zone': 'eu west ü%' } });
    const [request] = server.requests;
    assert.equal(request.path, '/profiles/upload');
    assert.deepEqual(request.query, { k: 'v' });
    assert.deepEqual(request.body, payload().bytes);
    const headers = request.headers;
    assert.equal(headers['content-type'], 'application/octet-stream');
    assert.equal(headers['x-allocscope-service'], 'svc');
    assert.equal(headers['x-allocscope-heap'], 'native');
    assert.equal(headers['x-allocscope-start'], new Date(payload().startMs).toISOString());
    assert.equal(headers['x-allocscope-end'], new Date(payload().endMs).toISOString());
    assert.equal(headers['x-allocscope-host'], 'box-1');
    assert.equal(headers['x-allocscope-pid'], '4242');
    assert.equal(headers['x-allocscope-sequence'], '7');
    assert.equal(headers['x-allocscope-label-env'], 'test');
    assert.equal(decodeURIComponent(headers['x-allocscope-label-region-zone']), 'eu west ü%');
    assert.equal(headers['x-scope-orgid'], 't1');
  });
});

describe('failures', () => {
  const url = () => `${server.url}/ingest`;

  it('503 is a retryable DeliveryError naming the status and the body', async () => {
    server.script(() => 503);
    const error = await rejection(send(createHttpDestination(url(), {})));
    assert.equal(error.retryable, true);
    assert.match(error.message, /HTTP 503 Service Unavailable/);
    assert.match(error.message, /scripted failure 503 second line/);
    assert.doesNotMatch(error.message, /\n/);
  });

  it('400 is not retryable', async () => {
    server.script(() => 400);
    const error = await rejection(send(createHttpDestination(url(), {})));
    assert.equal(error.retryable, false);
    assert.match(error.message, /HTTP 400/);
  });

  it('a connection reset after the body is retryable', async () => {
    server.script(() => 'reset');
    const error = await rejection(send(createHttpDestination(url(), {})));
    assert.equal(error.retryable, true);
    assert.match(error.message, /ECONNRESET/);
  });

  it('a server that never answers ends when the signal aborts, and the socket is closed', async () => {
    server.script(() => 'hang');
    const started = Date.now();
    const error = await rejection(send(createHttpDestination(url(), {}), AbortSignal.timeout(300)));
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.equal(error.retryable, true);
    assert.match(error.message, /no answer within the time limit/);
    const closed = await Promise.race([
      server.requests[0].closed.then(() => true),
      new Promise((resolve) => setTimeout(resolve, 1000, false)),
    ]);
    assert.equal(closed, true, 'the server still has the connection open');
  });

  it('an already aborted signal rejects without a request', async () => {
    const error = await rejection(send(createHttpDestination(url(), {}), AbortSignal.abort()));
    assert.equal(error.retryable, true);
    assert.equal(server.requests.length, 0);
  });

  it('a refused connection is retryable', async () => {
    const closedServer = await startIngestServer();
    await closedServer.close();
    const error = await rejection(send(createHttpDestination(`${closedServer.url}/ingest`, {})));
    assert.equal(error.retryable, true);
    assert.match(error.message, /ECONNREFUSED/);
    assert.ok(error.message.startsWith(`${closedServer.url}/ingest`));
  });

  it('a payload that cannot be described rejects instead of throwing', async () => {
    const destination = createHttpDestination(`${server.url}/plain`, {});
    const promise = destination.send(payload({ startMs: NaN }), AbortSignal.timeout(5000));
    const error = await rejection(promise);
    assert.equal(error.retryable, false);
  });
});

describe('construction', () => {
  it('throws one clear line for a bad URL, hiding any password', () => {
    assert.throws(() => createHttpDestination('not a url', {}), /'not a url' is not a valid URL/);
    assert.throws(() => createHttpDestination('ftp://host/ingest', {}), /not an http:\/\/ or https:\/\/ URL/);
    assert.throws(
      () => createHttpDestination('http://bob:hunter2@[bad/ingest', {}),
      (error) => /not a valid URL/.test(error.message) && !error.message.includes('hunter2') && !error.message.includes('\n'),
    );
  });

  it('refuses a token that cannot be a header, without showing it', () => {
    assert.throws(
      () => createHttpDestination('http://127.0.0.1:1/ingest', { ALLOCSCOPE_AUTH_TOKEN: 'abc\ndef' }),
      (error) => /ALLOCSCOPE_AUTH_TOKEN/.test(error.message) && !error.message.includes('abc'),
    );
  });
});
