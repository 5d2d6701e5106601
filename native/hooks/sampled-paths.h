// The rare paths of the hooks: a sampled allocation, a free of a block that may be sampled.
#pragma once

#include <cstddef>

namespace allocscope::hooks {

// The hooks' common paths (hooks/fast-paths.cc) are built without frame pointers and reach these
// only by tail calls, so each of these has the hooked function's caller as its return address
// and the caller's rbp as its saved rbp: the stack walk starts right there. Built with frame
// pointers (the rest of the addon), they call the profiler after libc's answer is known.

// After a crossed countdown: decides and records. Returns `address`.
void* recordIfSampled(void* address, size_t size);
// The same for posix_memalign, which answers with a status.
int recordStatusIfSampled(int status, void** result, size_t size);
// Forgets a block the filter says may be sampled, then frees it with libc's free.
void forgetThenFree(void* address);
// Forgets a block the filter says may be sampled, then reallocates it (and may sample the result).
void* forgetThenRealloc(void* old, size_t size);

}  // namespace allocscope::hooks
