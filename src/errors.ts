// The one error class allocscope throws for conditions a user can cause and fix.

/** Error codes carried by {@link AllocscopeError}, stable for programs to test. */
export type AllocscopeErrorCode =
  | 'ERR_ALREADY_RUNNING'
  | 'ERR_NOT_RUNNING'
  | 'ERR_SAMPLER_IN_USE'
  | 'ERR_UNSUPPORTED'
  | 'ERR_NOT_GZIP'
  | 'ERR_MALFORMED_PROFILE'
  | 'ERR_INVALID_PROFILE'
  | 'ERR_USAGE'
  | 'ERR_IO';

/** AllocscopeError is thrown for bad input, bad state and I/O failures; `code` says which. */
export class AllocscopeError extends Error {
  readonly code: AllocscopeErrorCode;

  constructor(code: AllocscopeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AllocscopeError';
    this.code = code;
  }
}
