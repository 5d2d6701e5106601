// A profile of this thread's active handles and requests by type (Timeout, TCPSocketWrap, FSReqCallback, ...): the counts a resource leak keeps raising.
import { ProfileBuilder } from '../model/builder';
import type { Profile } from '../model/profile';
import { VERSION } from '../version';

export const HANDLES_TYPE = { type: 'resources', unit: 'count' };

/**
 * handlesProfile counts process.getActiveResourcesInfo() by type, one sample per type, as a pprof
 * profile: it then travels like the heap profiles (files, S3, Pyroscope) and the same readers
 * rank it. A stream that never ends or a timer never cleared shows as a type whose count only
 * grows from period to period. The types are what Node reports, e.g. `Timeout`, `TCPSocketWrap`.
 */
export function handlesProfile(startMs: number, endMs: number): Profile {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  const builder = new ProfileBuilder({
    sampleTypes: [HANDLES_TYPE],
    defaultSampleType: HANDLES_TYPE.type,
    periodType: HANDLES_TYPE,
    period: 1,
    timeNanos: BigInt(endMs) * 1_000_000n,
    durationNanos: (endMs - startMs) * 1_000_000,
    comments: [`allocscope ${VERSION}: active handles and requests by type (process.getActiveResourcesInfo())`],
  });
  for (const [type, count] of [...counts].sort()) {
    builder.addSample([builder.sourceLocation({ name: type, filename: '', startLine: 0, line: 0, column: 0 }, undefined)], [count]);
  }
  return builder.build();
}
