// A small set of address ranges that the malloc hooks read lock-free while other threads add and remove ranges.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace allocscope::util {

// AddressRanges holds up to Capacity ranges [start, end). contains() takes no lock and never
// allocates, so a hook may call it; add() and remove() serialize on a mutex, outside hooks. A
// range being removed may still be seen by a contains() racing with it, which callers accept.
template <int Capacity>
class AddressRanges {
 public:
  // add returns false when every slot is taken (the range is then not known).
  bool add(uintptr_t start, uintptr_t end) {
    std::lock_guard<std::mutex> lock(d_writers);
    for (int slot = 0; slot < Capacity; ++slot) {
      Range& range = d_ranges[slot];
      if (range.start.load(std::memory_order_relaxed) != 0) continue;
      range.end.store(end, std::memory_order_relaxed);
      range.start.store(start, std::memory_order_release);
      if (slot >= d_slotsUsed.load(std::memory_order_relaxed)) d_slotsUsed.store(slot + 1, std::memory_order_release);
      return true;
    }
    return false;
  }

  // remove frees one slot holding a range that starts at `start`: owners that registered the
  // same range (isolates sharing code) each remove their own.
  void remove(uintptr_t start) {
    std::lock_guard<std::mutex> lock(d_writers);
    for (Range& range : d_ranges) {
      if (range.start.load(std::memory_order_relaxed) != start) continue;
      range.start.store(0, std::memory_order_release);
      return;
    }
  }

  bool contains(uintptr_t address) const {
    int used = d_slotsUsed.load(std::memory_order_acquire);
    for (int slot = 0; slot < used; ++slot) {
      const Range& range = d_ranges[slot];
      uintptr_t start = range.start.load(std::memory_order_acquire);
      if (start != 0 && address >= start && address < range.end.load(std::memory_order_relaxed)) return true;
    }
    return false;
  }

 private:
  struct Range {
    std::atomic<uintptr_t> start{0};  // 0: a free slot
    std::atomic<uintptr_t> end{0};
  };

  Range d_ranges[Capacity];
  std::atomic<int> d_slotsUsed{0};  // slots at or past this were never filled
  std::mutex d_writers;
};

}  // namespace allocscope::util
