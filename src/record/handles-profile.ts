// A profile of this thread's active handles and requests by type (Timeout, TCPSocketWrap, FSReqCallback, ...): the counts a resource leak keeps raising.
import { ProfileBuilder } from '../model/builder';
import { jsSourceFrame } from '../model/js-names';
import type { Profile } from '../model/profile';
import { VERSION } from '../version';
import type { ResourceStacks } from './resource-stacks';

export const HANDLES_TYPE = { type: 'resources', unit: 'count' };
/** Live async resources by creation stack (ALLOCSCOPE_HANDLE_STACKS=1), named by async_hooks' types. */
export const TRACKED_TYPE = { type: 'created_live', unit: 'count' };

/**
 * handlesProfile counts process.getActiveResourcesInfo() by type, one sample per type, as a pprof
 * profile: it then travels like the heap profiles (files, S3, Pyroscope) and the same readers
 * rank it. A stream that never ends or a timer never cleared shows as a type whose count only
 * grows from period to period. The types are what Node reports, e.g. `Timeout`, `TCPSocketWrap`.
 */
export function handlesProfile(startMs: number, endMs: number, stacks?: ResourceStacks): Profile {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  const sampleTypes = stacks === undefined ? [HANDLES_TYPE] : [HANDLES_TYPE, TRACKED_TYPE];
  const builder = new ProfileBuilder({
    sampleTypes,
    defaultSampleType: HANDLES_TYPE.type,
    periodType: HANDLES_TYPE,
    period: 1,
    timeNanos: BigInt(endMs) * 1_000_000n,
    durationNanos: (endMs - startMs) * 1_000_000,
    comments: [
      `allocscope ${VERSION}: active handles and requests by type (process.getActiveResourcesInfo())`,
      ...(stacks === undefined ? [] : [`created_live: live async resources by creation stack (async_hooks types); ${stacks.untracked} created while the table was full have none`]),
    ],
  });
  const typeFrame = (type: string) => builder.sourceLocation({ name: type, filename: '', startLine: 0, line: 0, column: 0 }, undefined);
  for (const [type, count] of [...counts].sort()) builder.addSample([typeFrame(type)], stacks === undefined ? [count] : [count, 0]);
  // Opt-in: a second column counts live resources by creation stack, the type as the leaf (the
  // counts above stay as they were, so readers of `resources` are not affected).
  for (const [type, resources] of stacks?.byType() ?? []) {
    const byStack = new Map<string, { frames: (typeof resources)[number]; count: number }>();
    for (const frames of resources) {
      const key = frames.map((f) => `${f.name}@${f.file}:${f.line}`).join('|');
      const entry = byStack.get(key) ?? { frames, count: 0 };
      entry.count += 1;
      byStack.set(key, entry);
    }
    for (const { frames, count } of byStack.values()) {
      const locations = frames.map((f) => builder.sourceLocation(jsSourceFrame(f.name, f.file, f.line, f.column), undefined));
      builder.addSample([typeFrame(type), ...locations], [0, count]);
    }
  }
  return builder.build();
}
