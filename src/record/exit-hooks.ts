// onFinalExit runs the recorder's last work once when the process or worker ends: normal end, exit(), uncaught exception, or a fatal signal.
import { isMainThread } from 'node:worker_threads';

/** Signals whose default action ends the process; we deliver the last profiles before it does. */
const FATAL_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface FinalWork {
  /** The last work without the event loop: at 'exit', where nothing asynchronous runs any more. */
  sync(): void;
  /** The last work with the event loop (uploads), where there is time for it: a signal, or the loop running empty. */
  async?(): Promise<void>;
}

/**
 * onFinalExit calls `work.async` (when given) and then `work.sync`, once, when the thread is
 * about to end: when its event loop runs empty ('beforeExit'), and on a fatal signal the
 * application does not handle itself, after which the signal is raised again so the process
 * still dies by it (its parent sees the same status). When the application has its own handler,
 * the application decides; if it calls process.exit() there, or anywhere, only `work.sync` runs,
 * at 'exit'. Returns a function that removes the hooks.
 */
export function onFinalExit(work: FinalWork): () => void {
  let finished = false;
  let asyncStarted = false;
  const finishSync = (): void => {
    if (finished) return;
    finished = true;
    work.sync();
  };
  const finish = (then: () => void): void => {
    if (asyncStarted || finished || work.async === undefined) {
      finishSync();
      then();
      return;
    }
    asyncStarted = true;
    work.async().catch(() => undefined).finally(() => {
      finishSync();
      then();
    });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return;
    finish(() => {
      remove();
      process.kill(process.pid, signal);
    });
  };
  const onBeforeExit = (): void => finish(() => undefined);
  const remove = (): void => {
    process.removeListener('beforeExit', onBeforeExit);
    process.removeListener('exit', finishSync);
    if (isMainThread) for (const signal of FATAL_SIGNALS) process.removeListener(signal, onSignal);
  };
  process.on('beforeExit', onBeforeExit);
  process.on('exit', finishSync);
  // Signals are delivered to the main thread only.
  if (isMainThread) for (const signal of FATAL_SIGNALS) process.on(signal, onSignal);
  return remove;
}
