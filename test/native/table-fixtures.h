// Test helpers: an AddressTable on heap storage, and addresses built to land in a chosen cell and filter slot.
#pragma once

#include <atomic>
#include <cstdint>
#include <new>
#include <random>
#include <vector>

#include "aggregate/address-table.h"

struct OwnedTable {
  OwnedTable(size_t capacity, size_t filterSize)
      : storage(::operator new(allocscope::aggregate::AddressTable::bytesFor(capacity), std::align_val_t(64))),
        words(allocscope::aggregate::filterWords(filterSize)),
        summary(allocscope::aggregate::summaryWords(filterSize)),
        table(storage, capacity, allocscope::aggregate::AddressFilter(words.data(), summary.data(), filterSize)) {}
  ~OwnedTable() { ::operator delete(storage, std::align_val_t(64)); }
  OwnedTable(const OwnedTable&) = delete;
  OwnedTable& operator=(const OwnedTable&) = delete;

  void* storage;
  std::vector<std::atomic<uint64_t>> words;
  std::vector<std::atomic<uint64_t>> summary;
  allocscope::aggregate::AddressTable table;
};

// A mirror of AddressTable's private hash, to build addresses that land in a chosen cell (the
// filter's slot function is public). The test "the hash mirror agrees with the table" fails if
// the mirror and the table drift apart.
constexpr uint64_t kMultiplier = 0x9E3779B97F4A7C15ull;
inline uint64_t mirrorMix(uintptr_t address) { return (address >> 4) * kMultiplier; }
inline size_t mirrorCell(uintptr_t address, size_t capacity) { return (mirrorMix(address) >> 20) & (capacity - 1); }
inline size_t mirrorBucket(uintptr_t address, size_t filterSize) {
  return allocscope::aggregate::filterSlot(address, filterSize - 1);
}

inline uint64_t inverseOf(uint64_t odd) {
  uint64_t inverse = odd;  // Newton's iteration doubles the correct low bits each round
  for (int i = 0; i < 6; ++i) inverse *= 2 - odd * inverse;
  return inverse;
}

// addressWith returns a 16-byte-aligned address whose mix has the given cell bits (20..) and
// whose filter index is `bucket`; the other bits come from `random` (tries until both fit).
inline uintptr_t addressWith(std::mt19937_64& random, size_t cell, size_t capacity, size_t bucket, size_t filterSize) {
  static const uint64_t inverse = inverseOf(kMultiplier);
  uint64_t cellMask = uint64_t(capacity - 1) << 20;
  for (;;) {
    uint64_t product = (random() & ~cellMask) | (uint64_t(cell) << 20);
    uint64_t shifted = product * inverse;  // address >> 4
    if (shifted >> 60 != 0 || shifted < 16) continue;  // must survive << 4, and not be a sentinel
    uintptr_t address = static_cast<uintptr_t>(shifted << 4);
    if (mirrorCell(address, capacity) == cell && mirrorBucket(address, filterSize) == bucket) return address;
  }
}
