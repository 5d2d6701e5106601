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
      widenBounds(start, end);  // first: a reader that finds the range passes the bounds check
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
    // Most addresses a stack walk asks about lie outside every range: two compares, no scan.
    if (address < d_low.load(std::memory_order_acquire) || address >= d_high.load(std::memory_order_acquire)) return false;
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

  // [d_low, d_high) holds every range ever added. Never narrowed: a removed range only leaves
  // the bounds loose, which costs a scan, never a wrong answer. Writers hold d_writers.
  void widenBounds(uintptr_t start, uintptr_t end) {
    if (start < d_low.load(std::memory_order_relaxed)) d_low.store(start, std::memory_order_release);
    if (end > d_high.load(std::memory_order_relaxed)) d_high.store(end, std::memory_order_release);
  }

  Range d_ranges[Capacity];
  std::atomic<int> d_slotsUsed{0};  // slots at or past this were never filled
  std::atomic<uintptr_t> d_low{UINTPTR_MAX};
  std::atomic<uintptr_t> d_high{0};
  std::mutex d_writers;
};

}  // namespace allocscope::util
