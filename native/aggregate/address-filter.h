// A filter of live sampled addresses: a count per slot for the sampled paths, a bit per slot for every free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocscope::aggregate {

// Every hooked free asks "could this block have been sampled?". The answer is one bit per slot:
// 8 KiB of bits for 64 Ki slots stay in L1, where the byte per slot they summarize (64 KiB)
// missed the cache on most frees of a zlib/crypto workload (perf: 84% of the free hook's time
// on that one load). Bits cannot count, so the number of live sampled addresses per slot stays
// in those bytes, which only the sampled paths touch, and a slot's bit is set while its count
// is above 0.
//
// Clearing a bit races with a new sample in the same slot (one thread takes the count 1 -> 0
// while another takes it 0 -> 1 and sets the bit, which the first then clears). So a clearer
// rechecks the count after clearing and sets the bit back, and brackets both steps with
// clearsBegun/clearsEnded; a reader trusts a clear bit only when no clear began or ended around
// its read (the bit may otherwise be in that window). False positives only cost a table probe.
struct FilterClock {
  alignas(64) std::atomic<uint64_t> clearsBegun{0};
  std::atomic<uint64_t> clearsEnded{0};
};

// filterSlot: the slot of an address. Not hashed: blocks close in memory share a word of bits,
// so a free usually finds its bit in cache (a hash made every free a cache miss). Folding in the
// bits above the window spreads windows that are far apart.
inline size_t filterSlot(uintptr_t address, size_t slotMask) {
  int windowBits = 4 + __builtin_popcountll(slotMask);
  return ((address >> 4) ^ (address >> windowBits)) & slotMask;
}

// filterBitsMayContain is the free hook's whole check (false: certainly not sampled). The loads
// are ordered by acquire (plain moves on x86): clearsEnded, the bit, clearsBegun.
inline bool filterBitsMayContain(const std::atomic<uint64_t>* bits, const FilterClock& clock, size_t slot) {
  uint64_t ended = clock.clearsEnded.load(std::memory_order_acquire);
  if ((bits[slot >> 6].load(std::memory_order_acquire) >> (slot & 63)) & 1) return true;
  return clock.clearsBegun.load(std::memory_order_acquire) != ended;
}

// AddressFilter updates and reads one filter's storage (counts, bits, clock) given by the owner:
// static data for the hooks (no pointer to load on a free), heap memory in tests.
class AddressFilter {
 public:
  static constexpr size_t wordsFor(size_t slots) { return (slots + 63) / 64; }

  // slots must be a power of two; counts holds `slots` bytes, bits wordsFor(slots) words.
  AddressFilter(std::atomic<uint8_t>* counts, std::atomic<uint64_t>* bits, FilterClock* clock, size_t slots)
      : d_counts(counts), d_bits(bits), d_clock(clock), d_slotMask(slots - 1) {}

  // clear forgets every address; only when no hook can run concurrently.
  void clear() {
    std::memset(static_cast<void*>(d_counts), 0, d_slotMask + 1);
    std::memset(static_cast<void*>(d_bits), 0, wordsFor(d_slotMask + 1) * sizeof(uint64_t));
  }

  bool mayContain(uintptr_t address) const { return filterBitsMayContain(d_bits, *d_clock, slotOf(address)); }

  // Counts saturate at 255 and then stay: a stuck count (and its set bit) only costs false positives.
  void add(uintptr_t address) {
    size_t slot = slotOf(address);
    adjustCount(slot, +1);
    // Every add makes sure of the bit, not only the one that took the count from 0: that one may
    // not have set it yet when a second add returns and its block is freed.
    std::atomic<uint64_t>& word = d_bits[slot >> 6];
    if ((word.load() & bitOf(slot)) == 0) word.fetch_or(bitOf(slot));
  }

  void remove(uintptr_t address) {
    size_t slot = slotOf(address);
    if (adjustCount(slot, -1) != 0) return;
    d_clock->clearsBegun.fetch_add(1);
    d_bits[slot >> 6].fetch_and(~bitOf(slot));
    // A sample added meanwhile may have set the bit before we cleared it: put it back.
    if (d_counts[slot].load() != 0) d_bits[slot >> 6].fetch_or(bitOf(slot));
    d_clock->clearsEnded.fetch_add(1, std::memory_order_release);
  }

 private:
  size_t slotOf(uintptr_t address) const { return filterSlot(address, d_slotMask); }
  static uint64_t bitOf(size_t slot) { return uint64_t{1} << (slot & 63); }

  // adjustCount returns the new count, or -1 when it did not change (saturated, or already 0).
  int adjustCount(size_t slot, int delta) {
    std::atomic<uint8_t>& count = d_counts[slot];
    uint8_t seen = count.load(std::memory_order_relaxed);
    while (seen != 255 && !(delta < 0 && seen == 0)) {
      if (count.compare_exchange_weak(seen, static_cast<uint8_t>(seen + delta))) return seen + delta;
    }
    return -1;
  }

  std::atomic<uint8_t>* d_counts;
  std::atomic<uint64_t>* d_bits;
  FilterClock* d_clock;
  size_t d_slotMask;
};

}  // namespace allocscope::aggregate
