// Preload entry (`node -r allocscope/register`): profiles this process and each of its workers, configured by environment.
import { recorderOptionsFromEnv } from './record/env-config';
import { Recorder } from './record/recorder';

function report(message: string): void {
  process.stderr.write(`allocscope: ${message}\n`);
}

// A profiler must never stop the application it watches: report bad settings once, run on.
try {
  new Recorder(recorderOptionsFromEnv(process.env, report)).start();
} catch (error) {
  report(`${(error as Error).message}; profiling is off for this process`);
}
