// A lock-free open-addressing table from live sampled addresses to their sample ids, behind a prefilter.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "aggregate/address-filter.h"

namespace allocscope::aggregate {

// AddressTable answers, on every hooked free, "was this address sampled?". Most frees are of
// unsampled blocks, so a free first reads the counts of a two-level prefilter (address-filter.h)
// and stops at a 0: probing the table itself on every free would cost 3-5 ns. Inserts and
// removes are lock-free (CAS on the key); a key is owned by one thread at a time because an
// address is live at most once. Probing is bounded: an insert that finds no cell within
// kMaxProbe gives up and the sample is dropped and counted. Storage (cells and prefilter) is
// allocated up front by the caller, apart: the hooks reach a prefilter in the addon's own data
// with no pointer to load.
class AddressTable {
 public:
  static constexpr uintptr_t kEmpty = 0;
  static constexpr uintptr_t kRemoved = 1;
  static constexpr uintptr_t kClaimed = 2;  // an insert is writing this cell
  static constexpr int kMaxProbe = 32;

  struct Cell {
    std::atomic<uintptr_t> address;
    std::atomic<uint64_t> sampleId;
  };

  static size_t bytesFor(size_t capacity) { return capacity * sizeof(Cell); }

  // capacity and filterSize must be powers of two; cellStorage holds bytesFor(capacity).
  AddressTable(void* cellStorage, size_t capacity, AddressFilter filter)
      : d_cells(static_cast<Cell*>(cellStorage)), d_capacityMask(capacity - 1), d_filter(filter) {
    clear();
  }

  void clear() {
    std::memset(static_cast<void*>(d_cells), 0, (d_capacityMask + 1) * sizeof(Cell));
    d_filter.clear();
  }

  // mayContain: false means the address was certainly not sampled. (The free hook makes the same
  // check on the static filter directly, without going through this object.)
  bool mayContain(uintptr_t address) const { return d_filter.mayContain(address); }

  bool insert(uintptr_t address, uint64_t sampleId) {
    size_t index = cellIndex(address);
    for (int probe = 0; probe < kMaxProbe; ++probe, index = (index + 1) & d_capacityMask) {
      Cell& cell = d_cells[index];
      uintptr_t seen = cell.address.load(std::memory_order_relaxed);
      if (seen != kEmpty && seen != kRemoved) continue;
      // Claim the cell, then write the id, then publish the address (release): a reader that
      // sees the address also sees its id, and two inserts never share a cell.
      if (!cell.address.compare_exchange_strong(seen, kClaimed, std::memory_order_acquire)) continue;
      cell.sampleId.store(sampleId, std::memory_order_relaxed);
      cell.address.store(address, std::memory_order_release);
      d_filter.add(address);
      return true;
    }
    return false;
  }

  // prefetch starts loading the cell an insert of this address will probe first.
  void prefetch(uintptr_t address) const { __builtin_prefetch(&d_cells[cellIndex(address)], 1); }

  // remove forgets a live address and returns its sample id, or 0 when it was not sampled.
  uint64_t remove(uintptr_t address) {
    size_t index = cellIndex(address);
    for (int probe = 0; probe < kMaxProbe; ++probe, index = (index + 1) & d_capacityMask) {
      Cell& cell = d_cells[index];
      uintptr_t seen = cell.address.load(std::memory_order_acquire);
      if (seen == kEmpty) return 0;
      if (seen != address) continue;
      uint64_t sampleId = cell.sampleId.load(std::memory_order_relaxed);
      if (cell.address.compare_exchange_strong(seen, kRemoved, std::memory_order_acq_rel)) {
        d_filter.remove(address);
        return sampleId;
      }
      return 0;
    }
    return 0;
  }

  // forEachLive calls use(sampleId) for every address live now (a snapshot that may miss
  // entries inserted or removed concurrently, which the next snapshot sees).
  template <typename Use>
  void forEachLive(Use&& use) const {
    for (size_t i = 0; i <= d_capacityMask; ++i) {
      uintptr_t address = d_cells[i].address.load(std::memory_order_acquire);
      if (address == kEmpty || address == kRemoved || address == kClaimed) continue;
      uint64_t sampleId = d_cells[i].sampleId.load(std::memory_order_relaxed);
      if (sampleId != 0) use(sampleId);
    }
  }

  size_t capacity() const { return d_capacityMask + 1; }

 private:
  static uint64_t mix(uintptr_t address) { return (address >> 4) * 0x9E3779B97F4A7C15ull; }
  size_t cellIndex(uintptr_t address) const { return (mix(address) >> 20) & d_capacityMask; }
  Cell* d_cells;
  size_t d_capacityMask;
  AddressFilter d_filter;
};

}  // namespace allocscope::aggregate
