// Opt-in (ALLOCSCOPE_HANDLE_STACKS=1): where each live async resource (timer, socket, ...) was created, for the handles profile.
import { createHook } from 'node:async_hooks';

/** A creation frame, innermost first. */
export interface CreationFrame {
  name: string;
  file: string;
  line: number;
  column: number;
}

/** Resources with a stack kept at once: beyond, new ones go untracked (counted, not stored). */
const MAX_TRACKED = 100_000;
const MAX_FRAMES = 24;
/** Promises are resources too, by the million in some services, and never a leaked handle. */
const UNTRACKED_TYPES = new Set(['PROMISE']);

/**
 * ResourceStacks keeps the creation stack of every live async resource of this thread, from
 * async_hooks' init to its destroy. It costs a stack capture per resource created (a few
 * microseconds), which is why it is opt-in; the handles profile then shows, under each type,
 * the stacks that created what is still alive. Resources created before it started have no stack.
 */
export class ResourceStacks {
  private readonly live = new Map<number, { type: string; frames: CreationFrame[] }>();
  private readonly hook = createHook({
    init: (asyncId, type) => {
      if (UNTRACKED_TYPES.has(type)) return;
      if (this.live.size >= MAX_TRACKED) {
        this.untracked += 1;
        return;
      }
      this.live.set(asyncId, { type, frames: captureFrames() });
    },
    destroy: (asyncId) => {
      this.live.delete(asyncId);
    },
  });
  /** Resources created while the table was full. */
  untracked = 0;

  enable(): void {
    this.hook.enable();
  }

  disable(): void {
    this.hook.disable();
    this.live.clear();
  }

  /** byType: the live tracked resources' stacks by type (one entry per resource). */
  byType(): Map<string, CreationFrame[][]> {
    const result = new Map<string, CreationFrame[][]>();
    for (const { type, frames } of this.live.values()) result.set(type, [...(result.get(type) ?? []), frames]);
    return result;
  }
}

/** captureFrames reads V8's structured stack (call sites), without formatting it as text. */
function captureFrames(): CreationFrame[] {
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  try {
    Error.stackTraceLimit = MAX_FRAMES;
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.captureStackTrace(holder, captureFrames);
    const sites = holder.stack ?? [];
    // The first frames are ours (the init hook) and async_hooks' (emitInit and friends).
    const first = sites.findIndex((s) => {
      const file = s.getFileName() ?? '';
      return file !== __filename && !file.startsWith('node:internal/async_hooks');
    });
    return sites.slice(Math.max(0, first)).map((s) => ({
      name: s.getFunctionName() ?? s.getMethodName() ?? '',
      file: s.getFileName() ?? '',
      line: s.getLineNumber() ?? 0,
      column: s.getColumnNumber() ?? 0,
    }));
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
}
