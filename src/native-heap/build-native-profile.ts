// buildNativeProfile turns the native profiler's flattened snapshot into a pprof profile in Go's heap format.
import { ALLOC_TYPES, heapProfileHeader, INUSE_TYPES, ProfileBuilder } from '../model/builder';
import { jsSourceFrame } from '../model/js-names';
import type { Location, Mapping, Profile } from '../model/profile';
import type { NativeSnapshotArrays, NativeStats } from '../native/types';
import { VERSION } from '../version';
import type { NativeProfilerSettings } from './options';

export interface NativeProfileContext {
  settings: NativeProfilerSettings;
  /** Since when the profile counts: start(), or the period's start for a periodic one. */
  startNanos: bigint;
  timeNanos: bigint;
  /** Whether the snapshot's alloc totals count the period since startNanos only (periodProfile). */
  perPeriod: boolean;
  stats: NativeStats;
}

/**
 * buildNativeProfile returns one sample per distinct native stack with Go's heap sample types,
 * [alloc_objects, alloc_space, inuse_objects, inuse_space], all unbiased for sampling, a
 * mapping per executable segment of each loaded object, and a location per program counter.
 */
export function buildNativeProfile(snapshot: NativeSnapshotArrays, context: NativeProfileContext): Profile {
  const { settings, stats } = context;
  const builder = new ProfileBuilder(heapProfileHeader({
    sampleTypes: [...ALLOC_TYPES, ...INUSE_TYPES],
    intervalBytes: settings.intervalBytes,
    startNanos: context.startNanos,
    timeNanos: context.timeNanos,
    comments: [
      `allocscope ${VERSION}: native heap, malloc/free hooks`,
      `intervalBytes=${settings.intervalBytes} stackDepth=${settings.stackDepth} ` +
        `maxSamplesPerSecond=${settings.maxSamplesPerSecond} intervalBytesNow=${stats.intervalBytes} backlogWidenings=${stats.backlogWidenings}`,
      `node ${process.version} pid=${process.pid}`,
      `samples=${stats.samples} live=${snapshot.liveSamples} dropped: ring=${stats.droppedRingFull} ` +
        `table=${stats.droppedTableFull} stacks=${stats.droppedStackTableFull}`,
      `hooked objects=${stats.hookedObjects} slots=${stats.hookedSlots} profiler bytes=${stats.profilerBytes}`,
      ...(context.perPeriod
        ? [`alloc_objects and alloc_space are per period: allocations since ${new Date(Number(context.startNanos / 1_000_000n)).toISOString()} only (delta profile)`]
        : []),
    ],
  }));
  const mappings: Mapping[] = snapshot.objects.map((object) =>
    builder.addMapping({
      memoryStart: object.start, memoryLimit: object.limit, fileOffset: object.fileOffset,
      file: object.path, buildId: object.buildId,
      // Symbolized here already: pprof must not try again (and warn when files moved).
      hasFunctions: true, hasFilenames: false, hasLineNumbers: false, hasInlineFrames: false,
    }),
  );

  // JS frames have no address of their own (their code moves); like the JS heap profile's, they
  // sit in one mapping that says they are symbolized already.
  let jsMapping: Mapping | undefined;
  const jsLocation = (pc: number): Location => {
    jsMapping ??= builder.addMapping({
      memoryStart: 0, memoryLimit: 0, fileOffset: 0, file: '[js]', buildId: '',
      hasFunctions: true, hasFilenames: true, hasLineNumbers: true, hasInlineFrames: false,
    });
    const frame = jsSourceFrame(snapshot.strings[snapshot.pcFunction[pc] as number] ?? '', snapshot.strings[snapshot.pcScript[pc] as number] ?? '',
      snapshot.pcLine[pc] as number, snapshot.pcColumn[pc] as number);
    return builder.sourceLocation(frame, jsMapping);
  };

  const locationOfPc: (Location | undefined)[] = new Array(snapshot.pcs.length);
  const location = (pc: number): Location => {
    let found = locationOfPc[pc];
    if (found === undefined) {
      if ((snapshot.pcScript[pc] as number) >= 0) {
        found = jsLocation(pc);
      } else {
        const object = snapshot.pcObject[pc] as number;
        const name = snapshot.strings[snapshot.pcFunction[pc] as number] ?? '';
        found = builder.addressLocation(snapshot.pcs[pc] as number, object >= 0 ? mappings[object] : undefined, name);
      }
      locationOfPc[pc] = found;
    }
    return found;
  };

  const stackCount = snapshot.allocBytes.length;
  for (let stack = 0; stack < stackCount; stack++) {
    const locations: Location[] = [];
    for (let k = snapshot.stackOffsets[stack] as number; k < (snapshot.stackOffsets[stack + 1] as number); k++) {
      locations.push(location(snapshot.stackPcs[k] as number));
    }
    builder.addSample(locations, [
      Math.round(snapshot.allocObjects[stack] as number),
      Math.round(snapshot.allocBytes[stack] as number),
      Math.round(snapshot.inuseObjects[stack] as number),
      Math.round(snapshot.inuseBytes[stack] as number),
    ]);
  }
  return builder.build();
}
