// A counting filter of live sampled addresses: one byte per slot, read by every hooked free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocscope::aggregate {

// Every hooked free asks "could this block have been sampled?": its slot's count of live sampled
// addresses is 0 or not. A bit per slot (8 KiB instead of 64 KiB) missed the cache less on a
// zlib/crypto workload (the free hook's share of a perf profile went from ~1.0% to ~0.6%), but
// a bit cannot count, and keeping it right while counts cross 0 on several threads took two more
// loads or more instructions per free: +0.65 ns per malloc+free pair in a tight loop, where the
// whole hot-path budget is 1.5 ns. So bytes.
//
// filterSlot: the slot of an address. Not hashed: blocks close in memory share a cache line of
// the filter, so a free usually finds its byte in cache (a hash made every free a cache miss,
// most of the hook's cost). Folding in the bits above the window spreads windows that are far
// apart.
inline size_t filterSlot(uintptr_t address, size_t slotMask) {
  int windowBits = 4 + __builtin_popcountll(slotMask);
  return ((address >> 4) ^ (address >> windowBits)) & slotMask;
}

// filterCountsMayContain is the free hook's whole check (false: certainly not sampled).
inline bool filterCountsMayContain(const std::atomic<uint8_t>* counts, size_t slot) {
  return counts[slot].load(std::memory_order_relaxed) != 0;
}

// AddressFilter updates and reads counts given by the owner: static data for the hooks (no
// pointer to load on a free), heap memory in tests.
class AddressFilter {
 public:
  // slots must be a power of two; counts holds `slots` bytes.
  AddressFilter(std::atomic<uint8_t>* counts, size_t slots) : d_counts(counts), d_slotMask(slots - 1) {}

  // clear forgets every address; only when no hook can run concurrently.
  void clear() { std::memset(static_cast<void*>(d_counts), 0, d_slotMask + 1); }

  bool mayContain(uintptr_t address) const { return filterCountsMayContain(d_counts, slotOf(address)); }

  void add(uintptr_t address) { adjust(slotOf(address), +1); }
  void remove(uintptr_t address) { adjust(slotOf(address), -1); }

 private:
  size_t slotOf(uintptr_t address) const { return filterSlot(address, d_slotMask); }

  // Counts saturate at 255 and then stay: a stuck count only costs false positives.
  void adjust(size_t slot, int delta) {
    std::atomic<uint8_t>& count = d_counts[slot];
    uint8_t seen = count.load(std::memory_order_relaxed);
    while (seen != 255 && !(delta < 0 && seen == 0)) {
      if (count.compare_exchange_weak(seen, static_cast<uint8_t>(seen + delta), std::memory_order_relaxed)) return;
    }
  }

  std::atomic<uint8_t>* d_counts;
  size_t d_slotMask;
};

}  // namespace allocscope::aggregate
