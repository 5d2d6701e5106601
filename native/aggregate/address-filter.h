// A counting filter of live sampled addresses, in two levels of packed counts, read by every hooked free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace allocscope::aggregate {

// Every hooked free asks "could this block have been sampled?". The answer lives in two levels
// of counts of live sampled addresses, each level exact (a count is changed by one
// compare-and-swap of its word, so no reader ever sees 0 while an address it counts is live):
// - the filter: 65,536 slots, 2-bit counts, 16 KiB. A slot covers a few addresses, so few frees
//   of unsampled blocks get past it to the table.
// - the summary: a 4-bit count per 16 consecutive filter slots, 2 KiB, read first. Every free
//   reads it, so it stays in the core's cache. The filter alone put a cache miss on almost every
//   free: the frees of a zlib/crypto service spread over its 256 lines, which the service's own
//   data evicted between frees (perf: ~50 ns a free, 0.6% of the main thread at 900 req/s; with
//   no live sample the summary is 0 everywhere and the filter is never read). With N live
//   samples about N/4,096 of frees go on to read the filter: a few percent at the few hundred
//   live samples a service's native heap holds at the default interval.
// A count saturates at its maximum (3 in the filter, 15 in the summary) and then stays until
// clear(): a stuck count only costs false positives (a filter read, or a table probe).
//
// filterSlot: the slot of an address. Not hashed: blocks close in memory share a cache line of
// the filter, so a free usually finds its count in cache (a hash made every free a cache miss,
// most of the hook's cost). Folding in the bits above the window spreads windows that are far
// apart.
inline size_t filterSlot(uintptr_t address, size_t slotMask) {
  int windowBits = 4 + __builtin_popcountll(slotMask);
  return ((address >> 4) ^ (address >> windowBits)) & slotMask;
}

// PackedCounts: kBits-bit counts packed in 64-bit words.
template <int kBits>
struct PackedCounts {
  static constexpr uint64_t kMax = (uint64_t{1} << kBits) - 1;  // the saturated count
  static constexpr size_t kPerWord = 64 / kBits;

  static constexpr size_t words(size_t slots) { return (slots + kPerWord - 1) / kPerWord; }
  static int shift(size_t slot) { return static_cast<int>(slot % kPerWord) * kBits; }

  static uint64_t count(const std::atomic<uint64_t>* words, size_t slot) {
    return (words[slot / kPerWord].load(std::memory_order_relaxed) >> shift(slot)) & kMax;
  }
  static bool nonZero(const std::atomic<uint64_t>* words, size_t slot) { return count(words, slot) != 0; }

  static void adjust(std::atomic<uint64_t>* words, size_t slot, int delta) {
    std::atomic<uint64_t>& word = words[slot / kPerWord];
    int bits = shift(slot);
    uint64_t seen = word.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t count = (seen >> bits) & kMax;
      if (count == kMax || (delta < 0 && count == 0)) return;
      uint64_t next = delta > 0 ? seen + (uint64_t{1} << bits) : seen - (uint64_t{1} << bits);
      if (word.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return;
    }
  }
};

using FilterCounts = PackedCounts<2>;
using SummaryCounts = PackedCounts<4>;
constexpr uint64_t kFilterCountMask = FilterCounts::kMax;
// A summary count covers this many consecutive filter slots (1 << kSummaryShift).
constexpr int kSummaryShift = 4;

// The 64-bit words a filter of `slots` slots needs, and those of its summary.
constexpr size_t filterWords(size_t slots) { return FilterCounts::words(slots); }
constexpr size_t summaryWords(size_t slots) { return SummaryCounts::words(((slots - 1) >> kSummaryShift) + 1); }

// filterMayContain is the free hook's whole check (false: certainly not sampled).
inline bool filterMayContain(const std::atomic<uint64_t>* summary, const std::atomic<uint64_t>* words, size_t slot) {
  return SummaryCounts::nonZero(summary, slot >> kSummaryShift) && FilterCounts::nonZero(words, slot);
}

// AddressFilter updates and reads the words given by the owner: static data for the hooks (no
// pointer to load on a free), heap memory in tests.
class AddressFilter {
 public:
  // slots must be a power of two; words holds filterWords(slots) words, summary summaryWords(slots).
  AddressFilter(std::atomic<uint64_t>* words, std::atomic<uint64_t>* summary, size_t slots)
      : d_words(words), d_summary(summary), d_slotMask(slots - 1) {}

  // clear forgets every address; only when no hook can run concurrently.
  void clear() {
    std::memset(static_cast<void*>(d_words), 0, filterWords(d_slotMask + 1) * sizeof(uint64_t));
    std::memset(static_cast<void*>(d_summary), 0, summaryWords(d_slotMask + 1) * sizeof(uint64_t));
  }

  bool mayContain(uintptr_t address) const { return filterMayContain(d_summary, d_words, slotOf(address)); }

  void add(uintptr_t address) { adjust(slotOf(address), +1); }
  void remove(uintptr_t address) { adjust(slotOf(address), -1); }

 private:
  size_t slotOf(uintptr_t address) const { return filterSlot(address, d_slotMask); }

  void adjust(size_t slot, int delta) {
    FilterCounts::adjust(d_words, slot, delta);
    SummaryCounts::adjust(d_summary, slot >> kSummaryShift, delta);
  }

  std::atomic<uint64_t>* d_words;
  std::atomic<uint64_t>* d_summary;
  size_t d_slotMask;
};

}  // namespace allocscope::aggregate
