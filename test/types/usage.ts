// Type-level test: the published .d.ts let a strict TypeScript user call the API (checked by `tsc` in pretest).
import { heap, encode, decode, validateProfile, AllocscopeError, VERSION } from 'allocscope';
import type { HeapProfilerOptions, HeapProfilerSettings, Profile, Sample, AllocscopeErrorCode } from 'allocscope';

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
