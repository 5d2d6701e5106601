// Drains sampled records into a stack table and a live-sample table, and snapshots them per stack.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "aggregate/sample-recorder.h"
#include "util/private-heap.h"

namespace allocscope::aggregate {

// Per-stack totals, unbiased for sampling (each sample weighs 1 / P(sampled)).
struct StackTotals {
  double allocObjects = 0;
  double allocBytes = 0;
  double inuseObjects = 0;
  double inuseBytes = 0;
};

struct AggregateSnapshot {
  std::vector<std::vector<uintptr_t>> stacks;  // leaf first
  std::vector<StackTotals> totals;             // one per stack
  uint64_t liveSamples = 0;
  // Names of frames in objects unloaded since they were sampled (the symbolizer cannot read
  // those any more), by return address.
  util::PrivateHashMap<uintptr_t, util::PrivateString> unloadedFrameNames;
};

// Aggregator is the single consumer of the ring. It runs on the drain thread and on the thread
// that asks for a profile, never in a hook, so it may allocate and lock.
class Aggregator {
 public:
  // A StackTranslator rewrites a stack's return addresses in place when the stack is first seen
  // (the JS code map names JIT frames this way, before V8 moves or frees the code).
  using StackTranslator = void (*)(uintptr_t* frames, size_t count);
  void setStackTranslator(StackTranslator translate);
  // maxBytes bounds the tables' memory: past it, samples with a stack not seen yet are dropped.
  void setBudget(size_t maxBytes) { d_maxBytes = maxBytes; }
  // drain moves every published record into the tables, each weighed by the interval that
  // sampled it. With prune, samples whose address left the table (they were freed) leave the
  // live table.
  void drain(SampleRing& ring, const AddressTable& table, bool prune);
  // snapshot drains, then adds in-use figures from the live addresses in the table. Samples
  // no longer in the table were freed: they leave the live table here. Alloc totals count
  // since a stack was interned. perPeriod makes a profile of the period since the previous
  // perPeriod snapshot, as continuous profiling sends them: alloc totals count that period
  // only, and stacks idle for it (no sample in it, none live) are forgotten first (absent from
  // this snapshot), so that the tables stop growing with every stack ever seen. A forgotten
  // stack sampled again is interned afresh.
  AggregateSnapshot snapshot(SampleRing& ring, const AddressTable& table, bool perPeriod);
  void reset();
  // framesWithin returns the distinct return addresses in [start, end) of the stacks so far.
  std::vector<uintptr_t> framesWithin(uintptr_t start, uintptr_t end) const;
  // The heap memory the tables use, roughly.
  size_t bytesUsed() const;
  uint64_t liveSamples() const;
  uint64_t droppedStackTableFull() const;

 private:
  // The tables live on the private heap (util/private-heap.h): drains and snapshots also run
  // on the host's threads, and the tables outlive everything the host allocates around them.
  using Frames = util::PrivateVector<uintptr_t>;
  struct StackHash {
    size_t operator()(const Frames& frames) const;
  };
  struct LiveSample {
    uint32_t stack;
    uint64_t sizeBytes;
    double weight;  // 1 / P(sampled), under the interval that sampled it
  };

  void drainLocked(SampleRing& ring);
  // pruneLocked removes freed samples (those whose address left the table) from d_live.
  void pruneLocked(const AddressTable& table);
  // forgetIdleLocked removes the stacks idle for the epoch and without live samples,
  // renumbering the others, then starts a new epoch.
  void forgetIdleLocked();
  size_t bytesUsedLocked() const;

  // internLocked returns the id of a raw stack's (translated) stack, or -1 past the budget.
  int64_t internLocked(const Frames& raw);

  mutable std::mutex d_mutex;
  StackTranslator d_translate = nullptr;
  // Raw stacks to their stack id, so each is translated once; stacks by their translated frames.
  util::PrivateHashMap<Frames, uint32_t, StackHash> d_rawStackIds;
  util::PrivateHashMap<Frames, uint32_t, StackHash> d_stackIds;
  util::PrivateVector<Frames> d_stacks;
  util::PrivateVector<StackTotals> d_totals;
  // Per stack, what was allocated since the last perPeriod snapshot.
  struct PeriodAlloc {
    double objects = 0;
    double bytes = 0;
  };
  util::PrivateVector<PeriodAlloc> d_periodAlloc;
  // Per stack, the epoch of its last drained sample; perPeriod snapshots advance d_epoch.
  util::PrivateVector<uint64_t> d_sampledEpoch;
  uint64_t d_epoch = 0;
  util::PrivateHashMap<uint64_t, LiveSample> d_live;
  size_t d_frameCount = 0;
  size_t d_maxBytes = SIZE_MAX;
  uint64_t d_droppedStackTableFull = 0;
};

}  // namespace allocscope::aggregate
