// Turns ALLOCSCOPE_UPLOAD (or the API's `upload`) into destinations: directories, file://, s3://, http(s)://.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Destination } from './destination';
import { createFileDestination, type Retention } from './file-destination';
import { createS3Destination } from './s3-destination';

/** DestinationConfigError is a destination that cannot work as written: reported once, at start. */
export class DestinationConfigError extends Error {}

/**
 * parseDestinations reads a comma-separated list. A word without a scheme is a directory
 * (relative to the working directory); `file://` is one too; `s3://` and `http(s)://` are
 * uploads. Anything else, or a destination its module refuses, throws DestinationConfigError.
 */
export function parseDestinations(list: string | readonly string[], env: NodeJS.ProcessEnv, retention: Retention): Destination[] {
  const words = (typeof list === 'string' ? list.split(',') : [...list]).map((w) => w.trim()).filter(Boolean);
  if (words.length === 0) throw new DestinationConfigError('no destination given, e.g. ALLOCSCOPE_UPLOAD=s3://bucket/profiles');
  return words.map((word) => {
    try {
      return createDestination(word, env, retention);
    } catch (error) {
      if (error instanceof DestinationConfigError) throw error;
      throw new DestinationConfigError((error as Error).message, { cause: error });
    }
  });
}

function createDestination(word: string, env: NodeJS.ProcessEnv, retention: Retention): Destination {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(word)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      return createFileDestination(word, path.resolve(word), retention);
    case 'file':
      return createFileDestination(word, fileURLToPath(word), retention);
    case 's3':
      return createS3Destination(word, env);
    case 'http':
    case 'https': {
      // Loaded on use: node:http and node:https hold ~0.6 MB of JS heap, which a service that
      // writes its profiles to files would carry for nothing (and mark in every full GC).
      const { createHttpDestination } = require('./http-destination') as typeof import('./http-destination');
      return createHttpDestination(word, env);
    }
    default:
      throw new DestinationConfigError(`${word}: unknown scheme '${scheme}://'; use a directory, file://, s3:// or http(s)://`);
  }
}
