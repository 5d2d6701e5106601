// The hook side of sampling: record a sampled allocation, forget a freed one. Process-global.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "aggregate/address-table.h"
#include "ring/drain-signal.h"
#include "ring/ring-buffer.h"
#include "ring/sample-record.h"

namespace allocscope::aggregate {

using SampleRing = ring::RingBuffer<ring::SampleRecord>;

// Counters shown by stats() and in the profile's comments.
struct RecorderCounters {
  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> droppedRingFull{0};
  std::atomic<uint64_t> droppedTableFull{0};
  // Times a nearly full ring doubled the sampling interval (see SampleRecorder::record).
  std::atomic<uint64_t> backlogWidenings{0};
};

// SampleRecorder owns the ring and the address table. Their storage is mmapped once, up front,
// so the hooks never allocate and the profiler's memory stays outside the heap it measures.
// record() and forgetSampled() run inside allocator hooks on any thread: no allocation, no lock.
class SampleRecorder {
 public:
  static constexpr size_t kRingCapacity = 8192;
  static constexpr size_t kTableCapacity = 1 << 18;
  static constexpr size_t kFilterSlots = 1 << 16;
  // Every this many samples the drain is woken, whatever its wait: a burst cannot fill the ring
  // while the drain sleeps.
  static constexpr uint64_t kSamplesPerWake = kRingCapacity / 8;
  // Past this many records waiting, the drain is behind (starved of CPU, or a burst outran the
  // sample budget, which only looks once a window): each sample then doubles the interval, so
  // that the rate falls geometrically before the ring is full and samples are dropped.
  static constexpr size_t kBacklogRecords = kRingCapacity * 3 / 4;

  // create maps the storage; returns false when the mapping fails (then nothing is sampled).
  static bool create();
  static SampleRecorder* get() { return s_instance; }

  void setStackDepth(int depth) { d_stackDepth.store(depth, std::memory_order_relaxed); }
  // record: intervalBytes is the mean gap that sampled the allocation (its weight depends on it).
  void record(void* address, size_t sizeBytes, uint64_t intervalBytes);
  // sampledAllocations counts the allocations sampled since the process began, recorded or
  // dropped: what the sample budget measures its rate by.
  uint64_t sampledAllocations() const { return d_nextSampleId.load(std::memory_order_relaxed) - 1; }
  // forgetSampled removes an address the filter says may be sampled (see mayBeSampled below). Out of
  // line, so that the free hook's common path saves no registers.
  void forgetSampled(void* address);

  SampleRing& ring() { return d_ring; }
  AddressTable& table() { return d_table; }
  RecorderCounters& counters() { return d_counters; }
  ring::DrainSignal& drainSignal() { return d_drainSignal; }
  size_t storageBytes() const { return d_storageBytes; }
  // clear forgets every sample (a new session starts from nothing).
  void clear();

 private:
  SampleRecorder(void* ringStorage, void* tableStorage, size_t storageBytes);
  // shedLoad: the ring is nearly full. Widens the interval (sampler::widenForBacklog) and wakes
  // the drain.
  void shedLoad(uint64_t sampledAt);

  static SampleRecorder* s_instance;
  SampleRing d_ring;
  AddressTable d_table;
  RecorderCounters d_counters;
  ring::DrainSignal d_drainSignal;
  std::atomic<uint64_t> d_nextSampleId{1};
  std::atomic<int> d_stackDepth{64};
  size_t d_storageBytes;
};

// The address table's filter and its summary, in the addon's own data: the free hook finds them
// with no load.
extern std::atomic<uint64_t> g_addressFilter[filterWords(SampleRecorder::kFilterSlots)];
extern std::atomic<uint64_t> g_addressSummary[summaryWords(SampleRecorder::kFilterSlots)];

// mayBeSampled is all a hooked free does for an unsampled block: one 4-bit count of the static
// summary, and only when that is not 0, one 2-bit count of the filter. Only for a sampled (or
// colliding) address is it true, and the hook goes on to forgetSampled.
inline bool mayBeSampled(void* address) {
  size_t slot = filterSlot(reinterpret_cast<uintptr_t>(address), SampleRecorder::kFilterSlots - 1);
  return address != nullptr && filterMayContain(g_addressSummary, g_addressFilter, slot);
}

}  // namespace allocscope::aggregate
