// SampleRecorder: storage setup, and the sampled path of the hooks.
#include "aggregate/sample-recorder.h"

#include <sys/mman.h>

#include <new>

#include "sampler/sampler.h"
#include "unwind/stack-capture.h"

namespace allocscope::aggregate {

SampleRecorder* SampleRecorder::s_instance = nullptr;

alignas(64) std::atomic<uint64_t> g_addressFilter[filterWords(SampleRecorder::kFilterSlots)];
alignas(64) std::atomic<uint64_t> g_addressSummary[summaryWords(SampleRecorder::kFilterSlots)];

bool SampleRecorder::create() {
  if (s_instance != nullptr) return true;
  size_t ringBytes = SampleRing::bytesFor(kRingCapacity);
  size_t tableBytes = AddressTable::bytesFor(kTableCapacity);
  size_t total = sizeof(SampleRecorder) + ringBytes + tableBytes;
  void* memory = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return false;
  auto* bytes = static_cast<char*>(memory);
  // The instance lives in the mapping too; it is never destroyed (hooks may run until exit).
  s_instance = new (bytes) SampleRecorder(bytes + sizeof(SampleRecorder),
                                          bytes + sizeof(SampleRecorder) + ringBytes, total);
  return true;
}

SampleRecorder::SampleRecorder(void* ringStorage, void* tableStorage, size_t storageBytes)
    : d_ring(ringStorage, kRingCapacity),
      d_table(tableStorage, kTableCapacity,
              AddressFilter(g_addressFilter, g_addressSummary, kFilterSlots)),
      d_storageBytes(storageBytes + sizeof(g_addressFilter) + sizeof(g_addressSummary)) {}

void SampleRecorder::clear() {
  // Records the last session pushed after its final drain must not count in the next one.
  // Only called by start(), when no drain runs: this is the ring's one consumer for now.
  while (d_ring.tryPop([](const ring::SampleRecord&) {})) {
  }
  d_table.clear();
  d_counters.samples.store(0);
  d_counters.droppedRingFull.store(0);
  d_counters.droppedTableFull.store(0);
  d_counters.backlogWidenings.store(0);
}

__attribute__((noinline, cold)) void SampleRecorder::forgetSampled(void* address) {
  d_table.remove(reinterpret_cast<uintptr_t>(address));
}

void SampleRecorder::record(void* address, size_t sizeBytes, uint64_t intervalBytes) {
  uint64_t sampleId = d_nextSampleId.fetch_add(1, std::memory_order_relaxed);
  uintptr_t key = reinterpret_cast<uintptr_t>(address);
  // The table's cell is a cache miss (perf: most of record()'s own time): let it load while the
  // stack is walked.
  d_table.prefetch(key);
  int depth = d_stackDepth.load(std::memory_order_relaxed);
  bool inserted = false;
  bool pushed = d_ring.tryPush([&](ring::SampleRecord& record) {
    record.depth = static_cast<uint32_t>(unwind::captureStack(record.frames, depth));
    record.sizeBytes = sizeBytes;
    record.intervalBytes = intervalBytes;
    // The address goes in the table before the record is published (when this returns), and
    // both before the allocator returns: a free of this block (which can only follow the
    // return) finds it. A record whose address found no cell is published empty (id 0): the
    // drain skips it.
    inserted = d_table.insert(key, sampleId);
    record.sampleId = inserted ? sampleId : 0;
  });
  if (!pushed) {
    d_counters.droppedRingFull.fetch_add(1, std::memory_order_relaxed);
  } else if (!inserted) {
    d_counters.droppedTableFull.fetch_add(1, std::memory_order_relaxed);
  } else {
    d_counters.samples.fetch_add(1, std::memory_order_relaxed);
  }
  if (!pushed || d_ring.sizeHint() >= kBacklogRecords) shedLoad(intervalBytes);
  if (sampleId % kSamplesPerWake == 0) d_drainSignal.post();
}

__attribute__((noinline, cold)) void SampleRecorder::shedLoad(uint64_t sampledAt) {
  if (sampler::widenForBacklog(sampledAt)) d_counters.backlogWidenings.fetch_add(1, std::memory_order_relaxed);
  d_drainSignal.post();
}

}  // namespace allocscope::aggregate
