// buildHeapProfile turns V8's flattened allocation tree into a pprof-shaped Profile of in-use memory.
import { heapProfileHeader, INUSE_TYPES, ProfileBuilder } from '../model/builder';
import { jsSourceFrame } from '../model/js-names';
import type { Label, Location, Profile } from '../model/profile';
import type { HeapSnapshotArrays } from '../native/types';
import { VERSION } from '../version';
import type { HeapProfilerSettings } from './options';

/** HeapProfileContext is what the snapshot itself does not know. */
export interface HeapProfileContext {
  settings: HeapProfilerSettings;
  /** When sampling started and when the snapshot was taken (ns since the epoch). */
  startNanos: bigint;
  timeNanos: bigint;
  threadId: number;
  collectedGarbage: boolean;
}

/**
 * buildHeapProfile returns one sample per call-tree node that holds live sampled objects,
 * valued [inuse_objects, inuse_space] as V8 estimated them (already scaled for sampling).
 */
export function buildHeapProfile(snapshot: HeapSnapshotArrays, context: HeapProfileContext): Profile {
  const { settings } = context;
  const builder = new ProfileBuilder(heapProfileHeader({
    // V8's sampler keeps no record of freed samples (on Node 20): in-use figures only.
    sampleTypes: INUSE_TYPES,
    intervalBytes: settings.intervalBytes,
    startNanos: context.startNanos,
    timeNanos: context.timeNanos,
    comments: [
      `allocscope ${VERSION}: JS heap, V8 sampling heap profiler`,
      `intervalBytes=${settings.intervalBytes} stackDepth=${settings.stackDepth}`,
      `node ${process.version} pid=${process.pid} thread_id=${context.threadId}`,
      context.collectedGarbage ? 'full garbage collection before snapshot: yes' : 'full garbage collection before snapshot: no (may include garbage)',
    ],
  }));
  // JS frames have no native addresses; one mapping for the Node binary tells pprof the
  // functions are already symbolized, so it neither warns nor tries to symbolize.
  const mapping = builder.addMapping({
    memoryStart: 0, memoryLimit: 0, fileOffset: 0, file: process.execPath, buildId: '',
    hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: false,
  });

  const { strings, nodeParent, nodeName, nodeFile, nodeLine, nodeColumn } = snapshot;
  const nodeCount = nodeParent.length;
  const objects = new Float64Array(nodeCount);
  const bytes = new Float64Array(nodeCount);
  for (let j = 0; j < snapshot.allocationNode.length; j++) {
    const node = snapshot.allocationNode[j] as number;
    const count = snapshot.allocationCount[j] as number;
    objects[node] = (objects[node] as number) + count;
    bytes[node] = (bytes[node] as number) + count * (snapshot.allocationSizeBytes[j] as number);
  }

  const locationOfNode: (Location | undefined)[] = new Array(nodeCount);
  const location = (node: number): Location => {
    let found = locationOfNode[node];
    if (found === undefined) {
      const frame = jsSourceFrame(strings[nodeName[node] as number] ?? '', strings[nodeFile[node] as number] ?? '',
        nodeLine[node] as number, nodeColumn[node] as number);
      found = builder.sourceLocation(frame, mapping);
      locationOfNode[node] = found;
    }
    return found;
  };

  const labels: Label[] = [{ key: 'thread_id', str: String(context.threadId) }];
  for (let node = 0; node < nodeCount; node++) {
    if (objects[node] === 0) continue;
    const stack: Location[] = [];
    for (let n = node; (nodeParent[n] as number) !== -1; n = nodeParent[n] as number) stack.push(location(n));
    builder.addSample(stack, [objects[node] as number, bytes[node] as number], labels);
  }
  return builder.build();
}
