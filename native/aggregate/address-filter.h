// A counting filter of live sampled addresses: 2-bit counts packed in words, read by every hooked free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocscope::aggregate {

// Every hooked free asks "could this block have been sampled?": its slot's count of live sampled
// addresses is 0 or not. Each count is 2 bits, 32 to a 64-bit word:
// - dense: the free hook reads a line of the filter at a place set by its address. With a byte
//   per slot (64 KiB), the frees of a zlib/crypto workload spread over 1,024 cache lines that the
//   application's own data evicted between frees: perf put the free hook at 1.7% of that loop,
//   ~20 ns a free, a cache miss. 2 bits make the same 65,536 slots 16 KiB.
// - exact: a count is changed by one compare-and-swap of its word, so no reader ever sees 0 while
//   an address is live. (A separate bit per slot beside byte counts was tried: clearing the bit
//   when a count reaches 0 races with an add in the same slot, and a free in that window would
//   miss a live sample.)
// A count saturates at 3 and then stays until clear(): a stuck count only costs false positives
// (a table probe on a free in that slot). Slots hold 3 live samples at once rarely: at 2,000 live
// samples, about 0.3 of the 65,536 slots at any time.
//
// filterSlot: the slot of an address. Not hashed: blocks close in memory share a cache line of
// the filter, so a free usually finds its count in cache (a hash made every free a cache miss,
// most of the hook's cost). Folding in the bits above the window spreads windows that are far
// apart.
inline size_t filterSlot(uintptr_t address, size_t slotMask) {
  int windowBits = 4 + __builtin_popcountll(slotMask);
  return ((address >> 4) ^ (address >> windowBits)) & slotMask;
}

constexpr int kFilterCountBits = 2;
constexpr uint64_t kFilterCountMask = (1u << kFilterCountBits) - 1;  // also the saturated count
constexpr size_t kFilterSlotsPerWord = 64 / kFilterCountBits;

// The 64-bit words a filter of `slots` slots needs.
constexpr size_t filterWords(size_t slots) { return (slots + kFilterSlotsPerWord - 1) / kFilterSlotsPerWord; }

inline int filterShift(size_t slot) { return static_cast<int>(slot % kFilterSlotsPerWord) * kFilterCountBits; }

// filterMayContain is the free hook's whole check (false: certainly not sampled).
inline bool filterMayContain(const std::atomic<uint64_t>* words, size_t slot) {
  return (words[slot / kFilterSlotsPerWord].load(std::memory_order_relaxed) >> filterShift(slot)) & kFilterCountMask;
}

// AddressFilter updates and reads the words given by the owner: static data for the hooks (no
// pointer to load on a free), heap memory in tests.
class AddressFilter {
 public:
  // slots must be a power of two; words holds filterWords(slots) words.
  AddressFilter(std::atomic<uint64_t>* words, size_t slots) : d_words(words), d_slotMask(slots - 1) {}

  // clear forgets every address; only when no hook can run concurrently.
  void clear() { std::memset(static_cast<void*>(d_words), 0, filterWords(d_slotMask + 1) * sizeof(uint64_t)); }

  bool mayContain(uintptr_t address) const { return filterMayContain(d_words, slotOf(address)); }

  void add(uintptr_t address) { adjust(slotOf(address), +1); }
  void remove(uintptr_t address) { adjust(slotOf(address), -1); }

 private:
  size_t slotOf(uintptr_t address) const { return filterSlot(address, d_slotMask); }

  void adjust(size_t slot, int delta) {
    std::atomic<uint64_t>& word = d_words[slot / kFilterSlotsPerWord];
    int shift = filterShift(slot);
    uint64_t seen = word.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t count = (seen >> shift) & kFilterCountMask;
      if (count == kFilterCountMask || (delta < 0 && count == 0)) return;
      uint64_t next = delta > 0 ? seen + (uint64_t{1} << shift) : seen - (uint64_t{1} << shift);
      if (word.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return;
    }
  }

  std::atomic<uint64_t>* d_words;
  size_t d_slotMask;
};

}  // namespace allocscope::aggregate
