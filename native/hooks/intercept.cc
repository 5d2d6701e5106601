// The list of interposed symbols, and the dlopen and dlclose hooks (patch objects loaded later, name frames of those unloaded).
#include "hooks/intercept.h"

#include <atomic>
#include <cerrno>

#include "hooks/fast-paths.h"
#include "hooks/originals.h"

namespace allocscope::hooks {

namespace {

std::atomic<void (*)()> s_dlopenListener{nullptr};
std::atomic<int (*)(void*)> s_dlcloseListener{nullptr};

extern "C" {

void* allocscope_dlopen(const char* file, int mode) noexcept {
  void* handle = g_originals.dlopen(file, mode);
  auto listener = s_dlopenListener.load(std::memory_order_acquire);
  if (handle != nullptr && listener != nullptr) {
    int savedErrno = errno;
    listener();
    errno = savedErrno;
  }
  return handle;
}

int allocscope_dlclose(void* handle) noexcept {
  auto listener = s_dlcloseListener.load(std::memory_order_acquire);
  return listener != nullptr && handle != nullptr ? listener(handle) : g_originals.dlclose(handle);
}

}  // extern "C"

}  // namespace

std::vector<Interposition> interpositions() {
  std::vector<Interposition> list = {
      {"malloc", reinterpret_cast<void*>(&allocscope_malloc)},
      {"free", reinterpret_cast<void*>(&allocscope_free)},
      {"calloc", reinterpret_cast<void*>(&allocscope_calloc)},
      {"realloc", reinterpret_cast<void*>(&allocscope_realloc)},
      {"reallocarray", reinterpret_cast<void*>(&allocscope_reallocarray)},
      {"posix_memalign", reinterpret_cast<void*>(&allocscope_posix_memalign)},
      {"aligned_alloc", reinterpret_cast<void*>(&allocscope_aligned_alloc)},
      {"memalign", reinterpret_cast<void*>(&allocscope_memalign)},
      {"valloc", reinterpret_cast<void*>(&allocscope_valloc)},
      {"pvalloc", reinterpret_cast<void*>(&allocscope_pvalloc)},
      {"dlopen", reinterpret_cast<void*>(&allocscope_dlopen)},
      {"dlclose", reinterpret_cast<void*>(&allocscope_dlclose)},
  };
  if (g_originals.free_sized != nullptr) list.push_back({"free_sized", reinterpret_cast<void*>(&allocscope_free_sized)});
  if (g_originals.free_aligned_sized != nullptr) {
    list.push_back({"free_aligned_sized", reinterpret_cast<void*>(&allocscope_free_aligned_sized)});
  }
  return list;
}

void setDlopenListener(void (*listener)()) { s_dlopenListener.store(listener, std::memory_order_release); }

void setDlcloseListener(int (*listener)(void*)) { s_dlcloseListener.store(listener, std::memory_order_release); }

}  // namespace allocscope::hooks
