// The shapes that cross the boundary between the C++ addon and TypeScript.

/**
 * HeapSnapshotArrays is V8's allocation tree flattened by native/v8/translate-heap-profile.cc.
 * Node i has parent nodeParent[i] (-1 for V8's root node) and parents precede children;
 * nodeName/nodeFile index `strings` (0 is ""). Allocation j is allocationCount[j] objects of
 * allocationSizeBytes[j] bytes at node allocationNode[j], counts already scaled by V8.
 */
export interface HeapSnapshotArrays {
  strings: string[];
  nodeParent: Int32Array;
  nodeName: Int32Array;
  nodeFile: Int32Array;
  nodeLine: Int32Array;
  nodeColumn: Int32Array;
  nodeScriptId: Int32Array;
  allocationNode: Int32Array;
  allocationSizeBytes: Float64Array;
  allocationCount: Float64Array;
}

/** One executable mapping of a loaded object (native/symbolize/symbolizer.h). */
export interface LoadedObject {
  path: string;
  start: number;
  limit: number;
  fileOffset: number;
  buildId: string;
}

/**
 * NativeSnapshotArrays is the native profiler's state flattened by
 * native/session/translate-native-profile.cc. Stack i is stackPcs[stackOffsets[i]] up to
 * stackOffsets[i + 1], leaf first, as indexes into pcs; pc j lies in objects[pcObject[j]]
 * (-1: none, e.g. JIT code) and is in function strings[pcFunction[j]] ("" when unknown).
 * A JS frame (JIT code V8 reported) has pcScript[j] >= 0: its function strings[pcFunction[j]]
 * starts at strings[pcScript[j]]:pcLine[j]:pcColumn[j], and pcs[j] is 0. Other pcs have
 * pcScript -1. Totals are per stack, already unbiased for sampling.
 */
export interface NativeSnapshotArrays {
  objects: LoadedObject[];
  strings: string[];
  pcs: Float64Array;
  pcObject: Int32Array;
  pcFunction: Int32Array;
  pcScript: Int32Array;
  pcLine: Int32Array;
  pcColumn: Int32Array;
  stackOffsets: Int32Array;
  stackPcs: Int32Array;
  allocObjects: Float64Array;
  allocBytes: Float64Array;
  inuseObjects: Float64Array;
  inuseBytes: Float64Array;
  liveSamples: number;
}

/** NativeStats are the native profiler's counters (see native.stats()). */
export interface NativeStats {
  running: boolean;
  /** Allocations sampled since start. */
  samples: number;
  /** Samples lost because the ring buffer, the address table or the stack table was full. */
  droppedRingFull: number;
  droppedTableFull: number;
  droppedStackTableFull: number;
  /**
   * Times the ring buffer was nearly full (the drain thread behind) and a sample doubled the
   * interval, to shed samples rather than drop them. The sample budget narrows it again.
   */
  backlogWidenings: number;
  /** Sampled allocations not freed yet. */
  liveSamples: number;
  /**
   * The mean bytes between samples now: the configured intervalBytes, or more while the
   * process allocates faster than maxSamplesPerSecond allows (0 when not running).
   */
  intervalBytes: number;
  /** Loaded objects with at least one GOT slot rewritten, and the slots rewritten. */
  hookedObjects: number;
  hookedSlots: number;
  /** Memory the profiler itself uses: fixed buffers plus its tables and its map of JS code. */
  profilerBytes: number;
}

/** NativeAddon is what allocscope.node exports; one instance per thread (context-aware). */
export interface NativeAddon {
  /** Returns false when another tool already runs V8's sampler on this thread. */
  heapStart(intervalBytes: number, stackDepth: number): boolean;
  heapStop(): void;
  /** Returns undefined when another tool stopped V8's sampler since heapStart. */
  heapSnapshot(collectGarbage: boolean): HeapSnapshotArrays | undefined;
  /** Returns "" when started, else why not. Process-wide. */
  nativeStart(intervalBytes: number, stackDepth: number, maxSamplesPerSecond: number): string;
  nativeStop(): void;
  /**
   * Returns undefined when native profiling is not running. perPeriod (default false): alloc
   * totals count since the previous perPeriod snapshot only, and stacks with no sample since
   * then and none live are dropped first (a stack sampled again later starts afresh).
   */
  nativeSnapshot(perPeriod?: boolean): NativeSnapshotArrays | undefined;
  nativeStats(): NativeStats;
  nativeNameJsFrames(): void;
  /** Runs full garbage collections on this thread's isolate. */
  collectGarbage(): void;
  /**
   * Calls `callback(heapLimitBytes)` once, at a safe point, when this thread's JS heap nears
   * V8's limit; the limit is first raised by headroomBytes so that the callback can work.
   */
  watchHeapLimit(callback: (heapLimitBytes: number) => void, headroomBytes: number): void;
  unwatchHeapLimit(): void;
  /** Gzips bytes (zlib level 0-9) on the libuv threadpool, running no JS stream code. */
  gzip(bytes: Uint8Array, level: number): Promise<Buffer>;
}
