// Resolves the allocator functions once, as the dynamic linker binds them, for the hooks to call.
#include "hooks/originals.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>

#include <string>
#include <vector>

namespace allocscope::hooks {

Originals g_originals{};

namespace {

// The loaded objects other than the executable, in load order: the order in which the dynamic
// linker searches the objects present at start (the executable, preloads, then dependencies).
std::vector<std::string> sharedObjectsInLoadOrder() {
  std::vector<std::string> names;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        // The executable has an empty name; the vdso defines no allocator.
        if (info->dlpi_name != nullptr && info->dlpi_name[0] == '/') static_cast<std::vector<std::string>*>(data)->emplace_back(info->dlpi_name);
        return 0;
      },
      &names);
  return names;
}

// The definition of `name` that calls from the process's objects reach. dlsym(RTLD_DEFAULT) gives
// it, except inside a non-PIE Node where it returns the executable's canonical PLT stub (which
// jumps through the very GOT slot we patch, so calling it from a hook would recurse forever):
// then it is the first shared object, in search order, that defines the name itself.
void* boundDefinition(const char* name, const std::vector<std::string>& objects, const void* executableBase) {
  void* resolved = dlsym(RTLD_DEFAULT, name);
  Dl_info info{};
  if (resolved != nullptr && dladdr(resolved, &info) != 0 && info.dli_fbase != executableBase) return resolved;
  for (const std::string& object : objects) {
    void* handle = dlopen(object.c_str(), RTLD_NOLOAD | RTLD_LAZY);
    if (handle == nullptr) continue;
    // dlsym on a handle also searches the object's dependencies: keep only its own definition.
    void* candidate = dlsym(handle, name);
    dlclose(handle);
    if (candidate != nullptr && dladdr(candidate, &info) != 0 && info.dli_fname != nullptr && object == info.dli_fname) return candidate;
  }
  return nullptr;
}

}  // namespace

bool resolveOriginals(const char** whyNot) {
  if (g_originals.malloc != nullptr) return true;
  if (dlopen("libc.so.6", RTLD_NOLOAD | RTLD_LAZY) == nullptr) {
    *whyNot = "libc.so.6 is not loaded (allocscope's native profiler needs glibc)";
    return false;
  }
  const std::vector<std::string> objects = sharedObjectsInLoadOrder();
  Dl_info executable{};
  dladdr(reinterpret_cast<const void*>(getauxval(AT_PHDR)), &executable);
  bool missing = false;
  auto bind = [&](const char* name, auto& slot, bool required) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(boundDefinition(name, objects, executable.dli_fbase));
    missing = missing || (required && slot == nullptr);
  };
  // A preloaded allocator (jemalloc, tcmalloc, a sanitizer's runtime) is called as the process
  // calls it: blocks it made must go back to it, never to glibc's free.
  Originals found{};
  bind("malloc", found.malloc, true);
  bind("free", found.free, true);
  bind("calloc", found.calloc, true);
  bind("realloc", found.realloc, true);
  bind("posix_memalign", found.posix_memalign, true);
  bind("aligned_alloc", found.aligned_alloc, true);
  bind("memalign", found.memalign, true);
  bind("valloc", found.valloc, true);
  bind("pvalloc", found.pvalloc, true);
  bind("dlopen", found.dlopen, true);
  bind("dlclose", found.dlclose, true);
  bind("free_sized", found.free_sized, false);
  bind("free_aligned_sized", found.free_aligned_sized, false);
  if (missing) {
    *whyNot = "the process lacks an allocator function allocscope hooks";
    return false;
  }
  // Publish the whole table at once: hooks may run on other threads as soon as GOTs are patched.
  g_originals = found;
  return true;
}

}  // namespace allocscope::hooks
