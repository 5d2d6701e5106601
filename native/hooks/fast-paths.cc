// The hooks' common paths: a countdown or one filter byte, then a tail call into libc; built without frame pointers.
#include <cerrno>
#include <cstddef>

#include "aggregate/sample-recorder.h"
#include "hooks/fast-paths.h"
#include "hooks/originals.h"
#include "hooks/sampled-paths.h"
#include "sampler/sampler.h"

// This file is compiled with -fomit-frame-pointer (binding.gyp): with no frame to set up, an
// unsampled call is a few instructions and a jump into libc, whose return goes straight back to
// the caller. A sampled call tail-calls into hooks/sampled-paths.cc, which keeps frame pointers.
// No allocation, no lock, nothing that throws.

namespace allocscope::hooks {

namespace {

using aggregate::mayBeSampled;
using sampler::countDown;

}  // namespace

extern "C" {

void* allocscope_malloc(size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.malloc(size);
  return recordIfSampled(g_originals.malloc(size), size);
}

void allocscope_free(void* address) noexcept {
  if (__builtin_expect(!mayBeSampled(address), 1)) return g_originals.free(address);
  return forgetThenFree(address);
}

void* allocscope_calloc(size_t count, size_t size) noexcept {
  size_t total;
  // An overflowing request is libc's to refuse (ENOMEM); it allocates nothing to sample.
  if (__builtin_mul_overflow(count, size, &total) || __builtin_expect(countDown(total), 1)) {
    return g_originals.calloc(count, size);
  }
  return recordIfSampled(g_originals.calloc(count, size), total);
}

void* allocscope_realloc(void* old, size_t size) noexcept {
  if (__builtin_expect(mayBeSampled(old), 0)) return forgetThenRealloc(old, size);
  if (__builtin_expect(countDown(size), 1)) return g_originals.realloc(old, size);
  return recordIfSampled(g_originals.realloc(old, size), size);
}

void* allocscope_reallocarray(void* old, size_t count, size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  // Not libc's reallocarray: it calls realloc through libc's PLT, whose GOT slot is hooked too,
  // and the block would be recorded twice.
  return allocscope_realloc(old, total);
}

int allocscope_posix_memalign(void** result, size_t alignment, size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.posix_memalign(result, alignment, size);
  return recordStatusIfSampled(g_originals.posix_memalign(result, alignment, size), result, size);
}

void* allocscope_aligned_alloc(size_t alignment, size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.aligned_alloc(alignment, size);
  return recordIfSampled(g_originals.aligned_alloc(alignment, size), size);
}

void* allocscope_memalign(size_t alignment, size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.memalign(alignment, size);
  return recordIfSampled(g_originals.memalign(alignment, size), size);
}

void* allocscope_valloc(size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.valloc(size);
  return recordIfSampled(g_originals.valloc(size), size);
}

void* allocscope_pvalloc(size_t size) noexcept {
  if (__builtin_expect(countDown(size), 1)) return g_originals.pvalloc(size);
  return recordIfSampled(g_originals.pvalloc(size), size);
}

void allocscope_free_sized(void* address, size_t size) noexcept {
  if (__builtin_expect(mayBeSampled(address), 0)) aggregate::SampleRecorder::get()->forgetSampled(address);
  return g_originals.free_sized(address, size);
}

void allocscope_free_aligned_sized(void* address, size_t alignment, size_t size) noexcept {
  if (__builtin_expect(mayBeSampled(address), 0)) aggregate::SampleRecorder::get()->forgetSampled(address);
  return g_originals.free_aligned_sized(address, alignment, size);
}

}  // extern "C"

}  // namespace allocscope::hooks
