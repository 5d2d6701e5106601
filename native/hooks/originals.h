// The allocator functions the hooks stand in for, as the dynamic linker binds them (never Node's PLT stubs, see below).
#pragma once

#include <cstddef>

namespace allocscope::hooks {

// Pointers to the implementations the process's own calls reach: glibc's, or those of an allocator
// preloaded before it. Never Node's: inside Node, `&malloc` and dlsym(RTLD_DEFAULT, "malloc")
// return Node's canonical PLT stub, which jumps through the very GOT slot we patch, so calling it
// from a hook would recurse forever.
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

// Fills g_originals once; returns false (with a reason) if glibc or a required function is missing.
bool resolveOriginals(const char** whyNot);

}  // namespace allocscope::hooks
