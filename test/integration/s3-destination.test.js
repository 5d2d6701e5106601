// The s3:// destination against a real S3 server (s3rver on loopback): object keys, bytes, metadata and how failures are classed.
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { spawnSync } = require('node:child_process');
const { startS3rver } = require('../support/s3');
const { buildTopProfile } = require('../support/profiles');
const { encode, decode } = require('../../dist/index.js');
const { createS3Destination } = require('../../dist/deliver/s3-destination.js');
const { DeliveryError } = require('../../dist/deliver/destination.js');

// The SDK warns once per process about Node 20 going out of its support window; it is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** 2026-11-21T05:58:32.123Z, the end of the profiled period. */
const END_MS = Date.UTC(2026, 10, 21, 5, 58, 32, 123);

function payload(overrides = {}) {
  return {
    service: 'checkout',
    heap: 'native',
    labels: { env: 'prod', region: 'eu-west-1' },
    startMs: END_MS - 60_000,
    endMs: END_MS,
    host: 'web-1',
    pid: 4242,
    threadId: 0,
    sequence: 7,
    bytes: encode(buildTopProfile()),
    ...overrides,
  };
}

function live() {
  return new AbortController().signal;
}

/** freePort returns a loopback port that nothing listens on (it was free a moment ago). */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** assertDeliveryError awaits `promise`, expecting it to reject with a DeliveryError, and returns the error. */
async function assertDeliveryError(promise) {
  const error = await promise.then(
    () => assert.fail('send resolved'),
    (thrown) => thrown,
  );
  assert.ok(error instanceof DeliveryError, `a DeliveryError, got ${error && error.stack}`);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  return error;
}

describe('s3:// destination against s3rver', () => {
  let s3;
  before(async () => {
    s3 = await startS3rver({ buckets: ['profiles', 'other'] });
  });
  after(async () => {
    await s3.close();
  });

  it('puts one object per payload under prefix/service/native/yyyy/mm/dd, with the same bytes and the labels in metadata', async () => {
    const destination = createS3Destination('s3://profiles/team/alloc/', s3.env);
    assert.equal(destination.id, 's3://profiles/team/alloc/');
    const sent = payload();
    await destination.send(sent, live());

    const objects = await s3.listObjects('profiles');
    assert.equal(objects.length, 1);
    const [object] = objects;
    assert.equal(object.key, 'team/alloc/checkout/native/2026/11/21/2026-11-21T05-58-32.123Z-web-1-4242-0007.pb.gz');
    assert.equal(object.size, sent.bytes.length);
    assert.equal(object.contentType, 'application/octet-stream');
    assert.equal(object.contentEncoding, undefined, 'no Content-Encoding: downloads must stay gzipped');
    assert.deepEqual(object.metadata, {
      env: 'prod',
      region: 'eu-west-1',
      heap: 'native',
      service: 'checkout',
      pid: '4242',
      host: 'web-1',
      start: '2026-11-21T05:57:32.123Z',
      end: '2026-11-21T05:58:32.123Z',
    });

    const stored = await s3.getObject('profiles', object.key);
    assert.ok(stored.equals(sent.bytes), 'the stored object is the payload, byte for byte');
    assert.equal(decode(stored).samples.length, buildTopProfile().samples.length, 'and still a gzipped pprof file');
  });

  it('puts a JS heap payload under /heap/, names a worker thread, keeps keys flat and metadata ASCII', async () => {
    const destination = createS3Destination('s3://other', s3.env);
    await destination.send(payload({
      heap: 'js',
      service: 'shop/api',
      host: 'pod/7',
      threadId: 3,
      sequence: 12345,
      labels: { 'Team Name': 'Zürich ops', heap: 'not-this' },
    }), live());

    const objects = await s3.listObjects('other');
    assert.equal(objects.length, 1);
    const [object] = objects;
    assert.equal(object.key, 'shop-api/heap/2026/11/21/2026-11-21T05-58-32.123Z-pod-7-4242-w3-12345.pb.gz');
    assert.equal(object.metadata['team-name'], 'Z%C3%BCrich ops');
    assert.equal(object.metadata.heap, 'js', 'the real heap wins over a label of the same name');
    assert.equal(object.metadata.service, 'shop/api');
  });

  it('a missing bucket is not retryable, and the message names the destination and S3\'s reason', async () => {
    const destination = createS3Destination('s3://no-such-bucket/profiles', s3.env);
    const error = await assertDeliveryError(destination.send(payload(), live()));
    assert.equal(error.retryable, false);
    assert.match(error.message, /^s3:\/\/no-such-bucket\/profiles: NoSuchBucket: /);
  });

  it('an unknown access key is not retryable', async () => {
    // s3rver checks the access key id but not SigV4 signatures, so a wrong secret would pass here.
    const destination = createS3Destination('s3://profiles', { ...s3.env, AWS_ACCESS_KEY_ID: 'NOT-A-KEY' });
    const error = await assertDeliveryError(destination.send(payload(), live()));
    assert.equal(error.retryable, false);
    assert.match(error.message, /^s3:\/\/profiles: InvalidAccessKeyId: /);
  });
});

describe('s3:// destination when the server cannot be reached', () => {
  it('an endpoint with nothing listening gives a retryable DeliveryError', async () => {
    const port = await freePort();
    const env = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` };
    const error = await assertDeliveryError(createS3Destination('s3://profiles/p', env).send(payload(), live()));
    assert.equal(error.retryable, true);
    assert.match(error.message, /^s3:\/\/profiles\/p: .*ECONNREFUSED/);
  });

  it('an aborted signal rejects at once, retryable', async () => {
    const port = await freePort();
    const env = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` };
    const started = Date.now();
    const error = await assertDeliveryError(createS3Destination('s3://profiles', env).send(payload(), AbortSignal.abort()));
    assert.ok(Date.now() - started < 1000, `rejected after ${Date.now() - started} ms`);
    assert.equal(error.retryable, true);
    assert.match(error.message, /^s3:\/\/profiles: request aborted/);
  });

  it('aborting a request the server never answers rejects promptly, retryable', async () => {
    // A server that accepts the connection and never replies: only the signal can end the send.
    const sockets = new Set();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const env = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${silent.address().port}` };
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const error = await assertDeliveryError(createS3Destination('s3://profiles', env).send(payload(), controller.signal));
      assert.ok(Date.now() - started < 2000, `rejected after ${Date.now() - started} ms`);
      assert.equal(error.retryable, true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('s3:// destination configuration errors', () => {
  for (const url of ['s3://', 's3:///prefix']) {
    it(`${url} throws at construction`, () => {
      assert.throws(() => createS3Destination(url, {}), {
        message: `${url}: missing the bucket name, e.g. s3://my-bucket/profiles`,
      });
    });
  }

  it('without @aws-sdk/client-s3 it throws at construction, saying what to install', () => {
    // A child process in which the package cannot be resolved, as for a user who has not installed it.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@aws-sdk/client-s3') throw Object.assign(new Error('Cannot find module'), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const { createS3Destination } = require(${JSON.stringify(require.resolve('../../dist/deliver/s3-destination.js'))});
      try { createS3Destination('s3://bucket/prefix', {}); } catch (error) { process.stdout.write(error.message); }
    `;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 's3:// destinations need the @aws-sdk/client-s3 package: npm install @aws-sdk/client-s3');
  });
});
