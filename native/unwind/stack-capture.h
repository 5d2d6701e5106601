// Native stacks for sampled allocations: frame pointers where the code keeps them, unwind tables where it does not.
#pragma once

#include <cstdint>

namespace allocscope::unwind {

// initStackCapture records the addon's own address range (its frames are left out of stacks)
// and walks the calling thread's stack once, so that one-time setup happens outside any hook.
// It returns false where stacks cannot be taken safely (glibc without _dl_find_object).
bool initStackCapture();

// captureStack writes up to maxDepth return addresses, the allocator's caller first, and
// returns how many. Allocation-free, lock-free, bounded by the calling thread's stack.
//
// Each step looks at the code it is leaving. Node, node-gyp addons and V8's JIT code keep frame
// pointers: one load each. Distro libraries (libc, libstdc++, an FFmpeg) do not, and a
// frame-pointer walk through them returns garbage: there the step reads the object's .eh_frame,
// found through glibc's lock-free _dl_find_object. The walk stops at the end of the stack, or
// where neither way applies (code with no tables, a CFA computed by an expression).
int captureStack(uintptr_t* frames, int maxDepth);

}  // namespace allocscope::unwind
