// onFinalExit runs a callback once when the process or worker ends: normal exit, uncaught exception, or a fatal signal.
import { isMainThread } from 'node:worker_threads';

/** Signals whose default action ends the process; we write the last profile before it does. */
const FATAL_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * onFinalExit calls `finish` (synchronously, exactly once) when the thread is about to end.
 * On a signal the app does not handle itself, it finishes and then re-raises the signal so
 * the process still dies by it (and its parent sees the same status). When the app has its
 * own handler, the app decides, and `finish` runs at the 'exit' that usually follows.
 * Returns a function that removes the hooks.
 */
export function onFinalExit(finish: () => void): () => void {
  let finished = false;
  const finishOnce = (): void => {
    if (finished) return;
    finished = true;
    finish();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return;
    finishOnce();
    remove();
    process.kill(process.pid, signal);
  };
  const remove = (): void => {
    process.removeListener('exit', finishOnce);
    if (isMainThread) for (const signal of FATAL_SIGNALS) process.removeListener(signal, onSignal);
  };
  process.on('exit', finishOnce);
  // Signals are delivered to the main thread only.
  if (isMainThread) for (const signal of FATAL_SIGNALS) process.on(signal, onSignal);
  return remove;
}
