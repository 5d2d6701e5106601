// toHeapProfile writes a JS heap profile as Chrome DevTools' .heapprofile: V8's sampling heap profile JSON, rebuilt as a call tree.
import { AllocscopeError } from '../errors';
import { MAX_STACK_DEPTH } from '../heap/options';
import type { Line, Location, Profile } from '../model/profile';

/** HeapProfileCallFrame is the inspector's Runtime.CallFrame; line and column are 0-based, -1 when unknown. */
export interface HeapProfileCallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** HeapProfileNode is the inspector's HeapProfiler.SamplingHeapProfileNode. */
export interface HeapProfileNode {
  callFrame: HeapProfileCallFrame;
  selfSize: number;
  id: number;
  children: HeapProfileNode[];
}

/** HeapProfileSample is the inspector's HeapProfiler.SamplingHeapProfileSample. */
export interface HeapProfileSample {
  size: number;
  nodeId: number;
  ordinal: number;
}

export interface HeapProfile {
  head: HeapProfileNode;
  samples: HeapProfileSample[];
}

/**
 * toHeapProfile rebuilds the call tree V8 reported (buildHeapProfile flattened it into one sample
 * per node) with selfSize = inuse_space, and one DevTools sample per tree node that holds memory.
 * `source` names the profile in errors. Throws AllocscopeError ERR_USAGE for a profile that is not
 * a JS heap profile (a native one has alloc_* types and C++ frames DevTools cannot place), has
 * negative sizes (a diff profile) or a stack deeper than allocscope's deepest `--depth`.
 */
export function toHeapProfile(profile: Profile, source = 'the profile'): HeapProfile {
  const types = profile.sampleTypes.map((t) => t.type);
  const prefix = "heapprofile is Chrome's format for JS heap profiles";
  if (types.some((type) => type.startsWith('alloc_'))) {
    throw new AllocscopeError('ERR_USAGE', `${prefix}; ${source} is a native profile: use --to speedscope`);
  }
  const space = types.indexOf('inuse_space');
  if (space < 0) {
    throw new AllocscopeError('ERR_USAGE', `${prefix}; ${source} has no inuse_space (it has ${types.join(', ') || 'no sample types'}): use --to speedscope`);
  }
  if (profile.samples.some((sample) => (sample.values[space] ?? 0) < 0)) {
    throw new AllocscopeError('ERR_USAGE', `${prefix}, which cannot hold negative sizes, and ${source} has some (a diff profile?)`);
  }

  // The inspector names scripts by id; pprof keeps only their names, so number them by name.
  const scriptIds = new Map<string, string>([['', '0']]);
  const scriptId = (url: string): string => {
    let id = scriptIds.get(url);
    if (id === undefined) {
      id = String(scriptIds.size);
      scriptIds.set(url, id);
    }
    return id;
  };
  // V8 reports 1-based positions of the function's start (0: unknown); DevTools wants them
  // 0-based. The column is the function's only when the line is its start line.
  const callFrameOfLine = (line: Line): HeapProfileCallFrame => ({
    functionName: line.function.name,
    scriptId: scriptId(line.function.filename),
    url: line.function.filename,
    lineNumber: line.function.startLine - 1,
    columnNumber: line.line === line.function.startLine ? line.column - 1 : -1,
  });
  const callFramesOfLocation = (location: Location): HeapProfileCallFrame[] =>
    location.lines.length === 0
      ? [{ functionName: `0x${location.address.toString(16)}`, scriptId: '0', url: location.mapping?.file ?? '', lineNumber: -1, columnNumber: -1 }]
      : location.lines.map(callFrameOfLine);

  let nextId = 1;
  const newNode = (callFrame: HeapProfileCallFrame): HeapProfileNode => ({ callFrame, selfSize: 0, id: nextId++, children: [] });
  const head = newNode({ functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 });
  // Children by call frame, so that samples sharing a path share its nodes, as in V8's tree.
  const childrenByKey = new Map<HeapProfileNode, Map<string, HeapProfileNode>>();
  const child = (parent: HeapProfileNode, callFrame: HeapProfileCallFrame): HeapProfileNode => {
    let byKey = childrenByKey.get(parent);
    if (byKey === undefined) {
      byKey = new Map();
      childrenByKey.set(parent, byKey);
    }
    const key = `${callFrame.functionName}\0${callFrame.url}\0${callFrame.lineNumber}\0${callFrame.columnNumber}`;
    let node = byKey.get(key);
    if (node === undefined) {
      node = newNode(callFrame);
      parent.children.push(node);
      byKey.set(key, node);
    }
    return node;
  };

  const samples: HeapProfileSample[] = [];
  for (const sample of profile.samples) {
    const size = sample.values[space] ?? 0;
    if (size === 0) continue;
    let node = head;
    const callFrames = sample.locations.flatMap(callFramesOfLocation);
    // The tree nests one level per frame and JSON.stringify recurses on it: about 4,000 levels overflow the stack.
    if (callFrames.length > MAX_STACK_DEPTH) {
      throw new AllocscopeError('ERR_USAGE', `${prefix}; ${source} has a stack of ${callFrames.length} frames, more than the ${MAX_STACK_DEPTH} a JS heap profile records: use --to speedscope`);
    }
    // pprof stores the leaf first (and inlined callees first within a location); the tree starts at the root.
    for (const callFrame of callFrames.reverse()) node = child(node, callFrame);
    node.selfSize += size;
    samples.push({ size, nodeId: node.id, ordinal: samples.length + 1 });
  }
  return { head, samples };
}
