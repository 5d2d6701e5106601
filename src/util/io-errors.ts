// describeIoError words a file-system error for people, in place of Node's `ENOENT: no such file or directory, open '...'`.

const IO_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file with that name is in the way',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
};

/** describeIoError returns a short reason for a Node file-system error, or its message. */
export function describeIoError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return IO_MESSAGES[code ?? ''] ?? message;
}
