// Type-level test: the published .d.ts let a strict TypeScript user call the API (checked by `tsc` in pretest).
import { heap, encode, decode, validateProfile, AllocscopeError, VERSION, startContinuous } from 'allocscope';
import type { HeapProfilerOptions, HeapProfilerSettings, Profile, Sample, AllocscopeErrorCode, ContinuousOptions, ContinuousHandle, DeliveryCounters } from 'allocscope';

const options: HeapProfilerOptions = { intervalBytes: 128 * 1024, stackDepth: 32 };
heap.start(options);
const settings: HeapProfilerSettings | undefined = heap.settings();
const profile: Profile = heap.profile({ collectGarbage: true });
const first: Sample | undefined = profile.samples[0];
const bytes: Buffer = encode(profile);
const again: Profile = decode(bytes);
validateProfile(again);
heap.stop();

try {
  decode(Buffer.from('junk'));
} catch (error) {
  if (error instanceof AllocscopeError) {
    const code: AllocscopeErrorCode = error.code;
    void code;
  }
}
void settings, first, VERSION;

// @ts-expect-error: intervalBytes is a number of bytes, not a string.
heap.start({ intervalBytes: '512k' });

// Continuous profiling: options, handle and counters are typed.
const continuousOptions: ContinuousOptions = { upload: ['s3://bucket/profiles'], periodSeconds: 60, labels: { env: 'prod' }, native: false, spool: { maxBytes: 1 << 20 } };
const handle: ContinuousHandle = startContinuous(continuousOptions);
const counters: DeliveryCounters = handle.counters();
void handle.flush().then(() => handle.stop());
void counters.dropped['spool-full'];
// @ts-expect-error: the period is a number of seconds.
startContinuous({ upload: '/tmp/profiles', periodSeconds: '60' });
