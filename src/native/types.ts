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

/** NativeAddon is what allocscope.node exports; one instance per thread (context-aware). */
export interface NativeAddon {
  /** Returns false when another tool already runs V8's sampler on this thread. */
  heapStart(intervalBytes: number, stackDepth: number): boolean;
  heapStop(): void;
  /** Returns undefined when another tool stopped V8's sampler since heapStart. */
  heapSnapshot(collectGarbage: boolean): HeapSnapshotArrays | undefined;
}
