// What one delivered profile carries: the gzipped pprof bytes and what names and labels it everywhere.

import type { ProfileKind } from '../record/file-names';

/** Which heap a profile shows (`js` is the V8 heap), or `handles`: the active handles and requests by type. */
export type HeapKind = 'js' | 'native' | 'handles';

/** profileKindOf: how file names and object keys call a kind (`heap` for the JS heap, as `allocscope run` names files). */
export function profileKindOf(heap: HeapKind): ProfileKind {
  return heap === 'js' ? 'heap' : heap;
}

export interface ProfilePayload {
  /** The service the profiles belong to (ALLOCSCOPE_SERVICE, else package.json's name, else the script's). */
  service: string;
  heap: HeapKind;
  /** User labels (ALLOCSCOPE_LABELS), not including `heap`. */
  labels: Record<string, string>;
  /** The period the profile covers, in ms since the epoch. */
  startMs: number;
  endMs: number;
  host: string;
  pid: number;
  /** Worker thread id; 0 for the main thread. */
  threadId: number;
  /** 1, 2, ... per process and thread: with pid, host and thread, unique. */
  sequence: number;
  /** The profile: a gzipped pprof file. */
  bytes: Buffer;
}

/** payloadId names a payload uniquely (spool files, object keys, log lines). */
export function payloadId(payload: ProfilePayload): string {
  const thread = payload.threadId === 0 ? '' : `-w${payload.threadId}`;
  return `${payload.host}-${payload.pid}${thread}-${String(payload.sequence).padStart(4, '0')}-${payload.heap}`;
}
