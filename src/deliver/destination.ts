// The one interface every upload target implements (files, S3, Pyroscope, plain HTTP), and how a send fails.
import type { ProfilePayload } from './payload';

/**
 * Destination delivers a payload somewhere. `send` resolves once the destination has it, and
 * rejects with a DeliveryError otherwise; it gives up when `signal` aborts (the queue's
 * per-request timeout, or shutdown). It never touches the application's state.
 */
export interface Destination {
  /** The destination as configured (a URL or a path): names it in messages and in the spool. */
  readonly id: string;
  send(payload: ProfilePayload, signal: AbortSignal): Promise<void>;
  /**
   * Present when the destination can deliver without the event loop (local files): used at a
   * final exit where no asynchronous work can run any more.
   */
  sendSync?(payload: ProfilePayload): void;
}

/** DeliveryError says whether trying again later can help (a 503, a reset) or not (a 400, a bad bucket). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

/** retryableStatus: which HTTP statuses are worth another try (timeouts, throttling, server errors). */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}
