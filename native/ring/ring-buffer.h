// A bounded lock-free multi-producer, single-consumer queue of fixed-size records.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>

namespace allocscope::ring {

// RingBuffer follows Dmitry Vyukov's bounded MPMC queue: each cell carries a sequence number
// that tells producers and the consumer whose turn it is, so pushing is one CAS on the tail and
// never waits for another thread. tryPush never allocates, locks or blocks; it fails when full
// (the caller counts the drop). One consumer at a time calls tryPop (the drain holds a mutex).
// Capacity must be a power of two and at least 2 (with one cell, "full" and "free for the next
// lap" are the same sequence number); storage is given by the caller (allocated up front).
template <typename Record>
class RingBuffer {
 public:
  struct Cell {
    std::atomic<size_t> sequence;
    Record record;
  };

  static size_t bytesFor(size_t capacity) { return capacity * sizeof(Cell); }

  RingBuffer(void* storage, size_t capacity)
      : d_cells(static_cast<Cell*>(storage)), d_mask(capacity - 1) {
    assert(capacity >= 2 && (capacity & (capacity - 1)) == 0);
    for (size_t i = 0; i < capacity; ++i) {
      new (&d_cells[i].sequence) std::atomic<size_t>(i);
    }
  }

  // tryPush reserves a cell, lets `fill` write the record in place (no copy of a large record
  // on the stack), then publishes it. Returns false, without calling fill, when full.
  template <typename Fill>
  bool tryPush(Fill&& fill) {
    size_t position = d_tail.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = d_cells[position & d_mask];
      size_t sequence = cell.sequence.load(std::memory_order_acquire);
      intptr_t difference = static_cast<intptr_t>(sequence) - static_cast<intptr_t>(position);
      if (difference == 0) {
        if (d_tail.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          fill(cell.record);
          cell.sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (difference < 0) {
        return false;  // full: the consumer has not freed this cell yet
      } else {
        position = d_tail.load(std::memory_order_relaxed);
      }
    }
  }

  // tryPop hands the oldest published record to `use` and frees its cell; false when empty.
  template <typename Use>
  bool tryPop(Use&& use) {
    size_t position = d_head.load(std::memory_order_relaxed);
    if (!publishedAt(position)) return false;
    Cell& cell = d_cells[position & d_mask];
    d_head.store(position + 1, std::memory_order_relaxed);
    use(cell.record);
    cell.sequence.store(position + d_mask + 1, std::memory_order_release);
    return true;
  }

  // hasPending tells any thread whether a published record waits for the consumer: a hint, as
  // producers and the consumer may move on at once. It reads, never frees.
  bool hasPending() const { return publishedAt(d_head.load(std::memory_order_relaxed)); }

  size_t capacity() const { return d_mask + 1; }

  // sizeHint: about how many cells are taken (reserved or published, not yet popped), for any
  // thread. The head is read first: it never passes the tail, so the difference is never negative.
  size_t sizeHint() const {
    size_t head = d_head.load(std::memory_order_relaxed);
    return d_tail.load(std::memory_order_relaxed) - head;
  }

 private:
  // publishedAt: whether the record at `position` (the consumer's next) has been published.
  bool publishedAt(size_t position) const {
    size_t sequence = d_cells[position & d_mask].sequence.load(std::memory_order_acquire);
    return static_cast<intptr_t>(sequence) - static_cast<intptr_t>(position + 1) >= 0;
  }

  Cell* d_cells;
  size_t d_mask;
  alignas(64) std::atomic<size_t> d_tail{0};
  alignas(64) std::atomic<size_t> d_head{0};
};

}  // namespace allocscope::ring
