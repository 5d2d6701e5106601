// The allocator functions the hooks stand in for, taken from libc itself (never from Node, see below).
#pragma once

#include <cstddef>

namespace allocscope::hooks {

// Pointers to libc's own implementations. They are resolved through
// dlsym(dlopen("libc.so.6", RTLD_NOLOAD), ...): inside Node, `&malloc` and
// dlsym(RTLD_DEFAULT, "malloc") return Node's canonical PLT stub, which jumps through the very
// GOT slot we patch, so calling it from a hook would recurse forever.
struct Originals {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  void (*free_sized)(void*, size_t);                  // C23; null when libc lacks it
  void (*free_aligned_sized)(void*, size_t, size_t);  // C23; null when libc lacks it
  void* (*dlopen)(const char*, int);
  int (*dlclose)(void*);
};

extern Originals g_originals;

// The file of a loaded object other than libc that defines the process's allocator functions (an
// allocator preloaded with LD_PRELOAD), or nullptr. The hooks call libc's functions, so blocks such
// an allocator made would reach libc's free: profiling must not start then.
const char* foreignAllocator();

// Fills g_originals once; returns false (with a reason) if libc or a required function is missing.
bool resolveOriginals(const char** whyNot);

}  // namespace allocscope::hooks
