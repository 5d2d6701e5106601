// Resolves libc's allocator functions once, for the hooks to call.
#include "hooks/originals.h"

#include <dlfcn.h>
#include <sys/auxv.h>

namespace allocscope::hooks {

Originals g_originals{};

namespace {

template <typename T>
bool lookup(void* libc, const char* name, T& slot, bool required) {
  slot = reinterpret_cast<T>(dlsym(libc, name));
  return slot != nullptr || !required;
}

// The object containing `address`, as dladdr names it; its base identifies it.
const void* objectBase(const void* address) {
  Dl_info info{};
  return dladdr(address, &info) != 0 ? info.dli_fbase : nullptr;
}

}  // namespace

const char* foreignAllocator() {
  // Every replacement allocator (jemalloc, tcmalloc, mimalloc) defines these together with malloc.
  static const char* const kNames[] = {"malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "malloc_usable_size"};
  void* libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
  if (libc == nullptr) return nullptr;
  const void* libcBase = objectBase(dlsym(libc, "malloc"));
  // Inside a non-PIE Node, malloc, free, calloc and realloc resolve to the executable's canonical
  // PLT stubs: those say nothing about where the calls end up, the other names do.
  const void* executableBase = objectBase(reinterpret_cast<const void*>(getauxval(AT_PHDR)));
  for (const char* name : kNames) {
    void* resolved = dlsym(RTLD_DEFAULT, name);
    if (resolved == nullptr) continue;
    Dl_info info{};
    if (dladdr(resolved, &info) == 0 || info.dli_fbase == libcBase || info.dli_fbase == executableBase) continue;
    return info.dli_fname;
  }
  return nullptr;
}

bool resolveOriginals(const char** whyNot) {
  if (g_originals.malloc != nullptr) return true;
  void* libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY);
  if (libc == nullptr) {
    *whyNot = "libc.so.6 is not loaded (allocscope's native profiler needs glibc)";
    return false;
  }
  Originals found{};
  bool ok = lookup(libc, "malloc", found.malloc, true) && lookup(libc, "free", found.free, true) &&
            lookup(libc, "calloc", found.calloc, true) && lookup(libc, "realloc", found.realloc, true) &&
            lookup(libc, "posix_memalign", found.posix_memalign, true) &&
            lookup(libc, "aligned_alloc", found.aligned_alloc, true) &&
            lookup(libc, "memalign", found.memalign, true) && lookup(libc, "valloc", found.valloc, true) &&
            lookup(libc, "pvalloc", found.pvalloc, true) && lookup(libc, "dlopen", found.dlopen, true) &&
            lookup(libc, "dlclose", found.dlclose, true) &&
            lookup(libc, "free_sized", found.free_sized, false) &&
            lookup(libc, "free_aligned_sized", found.free_aligned_sized, false);
  if (!ok) {
    *whyNot = "libc.so.6 lacks an allocator function allocscope hooks";
    return false;
  }
  // Publish the whole table at once: hooks may run on other threads as soon as GOTs are patched.
  g_originals = found;
  return true;
}

}  // namespace allocscope::hooks
