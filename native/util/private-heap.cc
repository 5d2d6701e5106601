// The private heap: a pool of size classes over anonymous mappings, behind one lock.
#include "util/private-heap.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory_resource>
#include <mutex>
#include <new>

namespace allocscope::util {

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer checks the tables' bounds only in blocks it allocated itself.
void* privateAllocate(size_t bytes, size_t alignment) { return ::operator new(bytes, std::align_val_t{alignment}); }
void privateDeallocate(void* block, size_t, size_t alignment) noexcept { ::operator delete(block, std::align_val_t{alignment}); }
#else
namespace {

// Whole pages from the kernel: the pool's chunks, and blocks too large for its size classes
// (big vectors), which go back to the kernel when freed.
class MappedPages final : public std::pmr::memory_resource {
 private:
  static size_t pageRounded(size_t bytes) {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return (bytes + page - 1) & ~(page - 1);
  }
  void* do_allocate(size_t bytes, size_t alignment) override {
    size_t length = pageRounded(bytes);
    // The pool aligns its chunks to their block size: map enough to cut an aligned run out.
    size_t slack = alignment > pageRounded(1) ? alignment : 0;
    void* mapped = mmap(nullptr, length + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // As operator new would: the addon is built without exceptions, so this ends the process.
    if (mapped == MAP_FAILED) std::__throw_bad_alloc();
    auto start = reinterpret_cast<uintptr_t>(mapped);
    uintptr_t aligned = slack == 0 ? start : (start + alignment - 1) & ~(alignment - 1);
    if (aligned > start) munmap(mapped, aligned - start);
    if (start + slack > aligned) munmap(reinterpret_cast<void*>(aligned + length), start + slack - aligned);
    return reinterpret_cast<void*>(aligned);
  }
  void do_deallocate(void* pages, size_t bytes, size_t) override { munmap(pages, pageRounded(bytes)); }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }
};

// Blocks up to 4 KiB come from the pool's size classes; larger ones (big vectors and hash
// bucket arrays, which grow rarely) are mapped apiece and unmapped when freed.
constexpr std::pmr::pool_options kPoolOptions{0, 4096};

struct PrivateHeap {
  std::mutex mutex;
  MappedPages pages;
  std::pmr::unsynchronized_pool_resource pool{kPoolOptions, &pages};
};

PrivateHeap& heap() {
  // In static storage, never destroyed (the drain may run until exit), and not from malloc.
  alignas(PrivateHeap) static unsigned char storage[sizeof(PrivateHeap)];
  static PrivateHeap* instance = [] {
    auto* created = new (storage) PrivateHeap();
    // A child forked while another thread held the lock would find it held for good.
    pthread_atfork([] { heap().mutex.lock(); }, [] { heap().mutex.unlock(); }, [] { heap().mutex.unlock(); });
    return created;
  }();
  return *instance;
}

}  // namespace

void* privateAllocate(size_t bytes, size_t alignment) {
  PrivateHeap& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  return h.pool.allocate(bytes, alignment);
}

void privateDeallocate(void* block, size_t bytes, size_t alignment) noexcept {
  PrivateHeap& h = heap();
  std::lock_guard<std::mutex> lock(h.mutex);
  h.pool.deallocate(block, bytes, alignment);
}
#endif

}  // namespace allocscope::util
