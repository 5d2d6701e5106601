// A throwaway S3 server (s3rver) on loopback for the S3 destination tests, with helpers to read back what was stored.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const S3rver = require('s3rver');
const { S3Client, ListObjectsV2Command, HeadObjectCommand, GetObjectCommand } = require('@aws-sdk/client-s3');

/** s3rver accepts any request signed with these (its defaults). */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * startS3rver starts s3rver on 127.0.0.1 on a free port with the given buckets in a fresh
 * directory. `env` is what a destination needs to reach it.
 */
async function startS3rver({ buckets = ['profiles'] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'allocscope-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDENTIALS });

  async function listObjects(bucket) {
    const objects = [];
    let ContinuationToken;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
      for (const { Key, Size } of page.Contents ?? []) {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        objects.push({ key: Key, size: Size, metadata: head.Metadata ?? {}, contentType: head.ContentType, contentEncoding: head.ContentEncoding });
      }
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    return objects;
  }

  async function getObject(bucket, key) {
    const reply = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await reply.Body.transformToByteArray());
  }

  async function close() {
    client.destroy();
    // Keep-alive sockets from the clients under test would hold server.close() open until they time out.
    server.httpServer.closeAllConnections();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  return {
    endpoint,
    dir,
    close,
    listObjects,
    getObject,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: endpoint },
  };
}

module.exports = { startS3rver };
