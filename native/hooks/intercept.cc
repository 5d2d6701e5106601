// The hooks: call libc, then sample. noexcept, no allocation, no lock; the common path is a TLS countdown.
#include "hooks/intercept.h"

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "aggregate/sample-recorder.h"
#include "hooks/originals.h"
#include "sampler/sampler.h"

namespace allocscope::hooks {

namespace {

using aggregate::SampleRecorder;

std::atomic<void (*)()> s_dlopenListener{nullptr};

// Out of line and cold: the common path of a hook then saves no registers.
__attribute__((noinline, cold)) void recordSample(void* address, size_t size) {
  sampler::ScopedBusy busy;  // whatever the unwinder allocates is not sampled
  SampleRecorder::get()->record(address, size);
}

// The recorder exists before any GOT slot points here (start() creates it, and it is never
// destroyed), so the hooks need no null checks.
inline void afterAllocation(void* address, size_t size) {
  if (sampler::shouldSample(size) && address != nullptr) recordSample(address, size);
}

// Forget before the block goes back to libc: afterwards another thread may get the same
// address and insert it, and we would forget the wrong sample.
inline void beforeFree(void* address) {
  if (address != nullptr) aggregate::forget(address);
}

extern "C" {

void* allocscope_malloc(size_t size) noexcept {
  void* address = g_originals.malloc(size);
  afterAllocation(address, size);
  return address;
}

void allocscope_free(void* address) noexcept {
  beforeFree(address);
  g_originals.free(address);
}

void* allocscope_calloc(size_t count, size_t size) noexcept {
  void* address = g_originals.calloc(count, size);
  size_t total;
  if (!__builtin_mul_overflow(count, size, &total)) afterAllocation(address, total);
  return address;
}

void* allocscope_realloc(void* old, size_t size) noexcept {
  // The old block counts as freed even if realloc then fails: a rare, small undercount, where
  // forgetting it afterwards could forget another thread's new block at the same address.
  beforeFree(old);
  void* address = g_originals.realloc(old, size);
  afterAllocation(address, size);
  return address;
}

void* allocscope_reallocarray(void* old, size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  // Not libc's reallocarray: it calls realloc through libc's PLT, whose GOT slot is hooked too,
  // and the block would be recorded twice.
  beforeFree(old);
  void* address = g_originals.realloc(old, total);
  afterAllocation(address, total);
  return address;
}

int allocscope_posix_memalign(void** result, size_t alignment, size_t size) noexcept {
  int status = g_originals.posix_memalign(result, alignment, size);
  if (status == 0) afterAllocation(*result, size);
  return status;
}

void* allocscope_aligned_alloc(size_t alignment, size_t size) noexcept {
  void* address = g_originals.aligned_alloc(alignment, size);
  afterAllocation(address, size);
  return address;
}

void* allocscope_memalign(size_t alignment, size_t size) noexcept {
  void* address = g_originals.memalign(alignment, size);
  afterAllocation(address, size);
  return address;
}

void* allocscope_valloc(size_t size) noexcept {
  void* address = g_originals.valloc(size);
  afterAllocation(address, size);
  return address;
}

void* allocscope_pvalloc(size_t size) noexcept {
  void* address = g_originals.pvalloc(size);
  afterAllocation(address, size);
  return address;
}

void allocscope_free_sized(void* address, size_t size) noexcept {
  beforeFree(address);
  g_originals.free_sized(address, size);
}

void allocscope_free_aligned_sized(void* address, size_t alignment, size_t size) noexcept {
  beforeFree(address);
  g_originals.free_aligned_sized(address, alignment, size);
}

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
  };
  if (g_originals.free_sized != nullptr) list.push_back({"free_sized", reinterpret_cast<void*>(&allocscope_free_sized)});
  if (g_originals.free_aligned_sized != nullptr) {
    list.push_back({"free_aligned_sized", reinterpret_cast<void*>(&allocscope_free_aligned_sized)});
  }
  return list;
}

void setDlopenListener(void (*listener)()) { s_dlopenListener.store(listener, std::memory_order_release); }

}  // namespace allocscope::hooks
