// Names of written profiles: they sort by time, and carry the pid, the thread and a sequence number.

/** ProfileKind is the part of the name before `.pb.gz`: which heap the profile shows, or the handle counts. */
export type ProfileKind = 'heap' | 'native' | 'handles';

export interface ProfileFileNameParts {
  time: Date;
  pid: number;
  /** Worker thread id; 0 (the main thread) is left out of the name. */
  threadId: number;
  sequence: number;
  kind: ProfileKind;
}

/**
 * profileFileName returns e.g. `2026-11-21T05-58-32.123Z-pid4242-w1-0003.heap.pb.gz`:
 * an ISO time with `:` replaced (portable file names) first, so names sort by time.
 */
export function profileFileName(parts: ProfileFileNameParts): string {
  const stamp = parts.time.toISOString().replace(/:/g, '-');
  const thread = parts.threadId === 0 ? '' : `-w${parts.threadId}`;
  const sequence = String(parts.sequence).padStart(4, '0');
  return `${stamp}-pid${parts.pid}${thread}-${sequence}.${parts.kind}.pb.gz`;
}

/** PROFILE_FILE_PATTERN matches names made by {@link profileFileName}. */
export const PROFILE_FILE_PATTERN = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-pid\d+(-w\d+)?-\d{4,}\.(heap|native|handles)\.pb\.gz$/;

/** parseProfileFileName reads back the parts of a name made by {@link profileFileName}; undefined for other names. */
export function parseProfileFileName(name: string): ProfileFileNameParts | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d\.\d{3}Z)-pid(\d+)(?:-w(\d+))?-(\d{4,})\.(heap|native|handles)\.pb\.gz$/.exec(name);
  if (match === null) return undefined;
  const [, hour, minutes, seconds, pid, thread, sequence, kind] = match as unknown as [string, string, string, string, string, string | undefined, string, ProfileKind];
  return {
    time: new Date(`${hour}:${minutes}:${seconds}`),
    pid: Number(pid),
    threadId: thread === undefined ? 0 : Number(thread),
    sequence: Number(sequence),
    kind,
  };
}
