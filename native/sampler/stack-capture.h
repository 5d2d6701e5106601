// Native stacks for sampled allocations: unwind tables first, frame pointers where tables end.
#pragma once

#include <cstdint>

namespace allocscope::sampler {

// initStackCapture records the addon's own address range (its frames are left out of stacks)
// and runs the unwinder once, so that its one-time setup happens outside any hook.
void initStackCapture();

// captureStack writes up to maxDepth return addresses, the allocator's caller first, and
// returns how many. Allocation-free, lock-free, bounds-checked. Distro libraries have no frame
// pointers (a frame-pointer walk through them returns garbage), so it unwinds with the
// .eh_frame tables (libgcc's _Unwind_Backtrace, which finds them through glibc's lock-free
// _dl_find_object). V8's JIT code has no unwind tables but keeps frame pointers: where the
// tables end, the walk goes on along the frame-pointer chain, within this thread's stack.
int captureStack(uintptr_t* frames, int maxDepth);

}  // namespace allocscope::sampler
