// Unit tests of native/aggregate/sample-recorder.cc, the hook side of sampling: record puts the
// address in the table and the record in the ring, forget removes it, a nearly full ring widens
// the interval, a full ring drops and counts, and clear forgets every sample (a new session starts from nothing).
// SampleRecorder is a process-wide singleton: each test starts by emptying it.
#include "aggregate/sample-recorder.h"

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "sampler/sampler.h"
#include "sampler/thread-state.h"
#include "unwind/stack-capture.h"
#include "table-fixtures.h"
#include "tap.h"

// This thread's sampler state, defined here as native/sampler/thread-state.cc does for the addon
// (defined in the test's own file: UBSan misreads an initial-exec TLS variable from another one).
namespace allocscope::sampler {
__thread ThreadState t_state __attribute__((tls_model("initial-exec"))) = {};
}  // namespace allocscope::sampler


using allocscope::aggregate::SampleRecorder;
using allocscope::ring::SampleRecord;

namespace {

SampleRecorder& emptyRecorder() {
  static bool created = [] {
    allocscope::unwind::initStackCapture();
    return SampleRecorder::create();
  }();
  if (!created) {
    tap::note("SampleRecorder::create() failed");
    throw tap::Abort{};
  }
  SampleRecorder& recorder = *SampleRecorder::get();
  while (recorder.ring().tryPop([](SampleRecord&) {})) {
  }
  recorder.clear();
  return recorder;
}

std::vector<SampleRecord> popAll(SampleRecorder& recorder) {
  std::vector<SampleRecord> records;
  while (recorder.ring().tryPop([&](SampleRecord& record) { records.push_back(record); })) {
  }
  return records;
}

// Distinct, 16-byte-aligned fake block addresses (the recorder never dereferences them).
uintptr_t blockAddress(uint64_t i) { return 0x7f0000000000ull + i * 0x40; }
void* blockPointer(uint64_t i) { return reinterpret_cast<void*>(blockAddress(i)); }

}  // namespace

TEST("create maps the storage once; get returns the instance") {
  SampleRecorder& recorder = emptyRecorder();
  CHECK(SampleRecorder::create());  // again: no new mapping
  CHECK_EQ(SampleRecorder::get(), &recorder);
  CHECK_EQ(recorder.ring().capacity(), SampleRecorder::kRingCapacity);
  CHECK_EQ(recorder.table().capacity(), SampleRecorder::kTableCapacity);
  size_t ringBytes = allocscope::aggregate::SampleRing::bytesFor(SampleRecorder::kRingCapacity);
  size_t tableBytes = allocscope::aggregate::AddressTable::bytesFor(SampleRecorder::kTableCapacity);
  CHECK_GE(recorder.storageBytes(), ringBytes + tableBytes + sizeof(allocscope::aggregate::g_addressFilter));
}

TEST("record: the address goes in the table and one record in the ring; forget removes it") {
  SampleRecorder& recorder = emptyRecorder();
  recorder.setStackDepth(16);
  uint64_t sampledBefore = recorder.sampledAllocations();
  recorder.record(blockPointer(1), 1234, 4096);
  recorder.record(blockPointer(2), 99, 8192);
  CHECK_EQ(recorder.counters().samples.load(), uint64_t{2});
  CHECK_EQ(recorder.sampledAllocations(), sampledBefore + 2);
  CHECK(recorder.table().mayContain(blockAddress(1)));
  std::vector<SampleRecord> records = popAll(recorder);
  REQUIRE(records.size() == 2);
  CHECK_EQ(records[0].sizeBytes, uint64_t{1234});
  CHECK_EQ(records[1].sizeBytes, uint64_t{99});
  CHECK_EQ(records[0].intervalBytes, uint64_t{4096});  // what each weighs by
  CHECK_EQ(records[1].intervalBytes, uint64_t{8192});
  CHECK_NE(records[0].sampleId, records[1].sampleId);
  CHECK_NE(records[0].sampleId, uint64_t{0});
  CHECK_LE(records[0].depth, uint32_t{16});
  CHECK(allocscope::aggregate::mayBeSampled(blockPointer(1)));
  recorder.forgetSampled(blockPointer(1));
  recorder.forgetSampled(blockPointer(3));  // never sampled: nothing happens
  CHECK_EQ(recorder.table().remove(blockAddress(1)), uint64_t{0});
  CHECK_EQ(recorder.table().remove(blockAddress(2)), records[1].sampleId);
}

TEST("a full ring drops the sample, counts it, and leaves no address behind") {
  SampleRecorder& recorder = emptyRecorder();
  recorder.setStackDepth(4);
  uint64_t sampledBefore = recorder.sampledAllocations();
  for (uint64_t i = 0; i < SampleRecorder::kRingCapacity + 3; ++i) recorder.record(blockPointer(100 + i), 64, 1024);
  CHECK_EQ(recorder.counters().samples.load(), uint64_t{SampleRecorder::kRingCapacity});
  // The sample budget counts dropped samples too: they cost their stack walk all the same.
  CHECK_EQ(recorder.sampledAllocations(), sampledBefore + SampleRecorder::kRingCapacity + 3);
  CHECK_EQ(recorder.counters().droppedRingFull.load(), uint64_t{3});
  uint64_t last = 100 + SampleRecorder::kRingCapacity;
  for (uint64_t i = last; i < last + 3; ++i) CHECK_EQ(recorder.table().remove(blockAddress(i)), uint64_t{0});
  CHECK_EQ(popAll(recorder).size(), size_t{SampleRecorder::kRingCapacity});
}

TEST("a nearly full ring doubles the interval in force, once per interval, and never restarts a stopped session") {
  using allocscope::sampler::g_intervalBytes;
  SampleRecorder& recorder = emptyRecorder();
  recorder.setStackDepth(4);
  g_intervalBytes.store(1024);
  uint64_t i = 0;
  for (; i + 1 < SampleRecorder::kBacklogRecords; ++i) recorder.record(blockPointer(40'000 + i), 64, 1024);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{1024});  // below the mark: the drain keeps up
  CHECK_EQ(recorder.counters().backlogWidenings.load(), uint64_t{0});
  recorder.record(blockPointer(40'000 + i++), 64, 1024);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{2048});
  // Samples drawn at the old interval (other threads' gaps) do not widen it again...
  recorder.record(blockPointer(40'000 + i++), 64, 1024);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{2048});
  // ...each one at the new interval does: the rate falls geometrically while the backlog lasts.
  recorder.record(blockPointer(40'000 + i++), 64, 2048);
  recorder.record(blockPointer(40'000 + i++), 64, 4096);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{8192});
  CHECK_EQ(recorder.counters().backlogWidenings.load(), uint64_t{3});
  CHECK_EQ(recorder.counters().droppedRingFull.load(), uint64_t{0});
  // stop() set 0: a late sample must not turn sampling back on.
  g_intervalBytes.store(0);
  recorder.record(blockPointer(40'000 + i++), 64, 8192);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{0});
  // Once the drain has caught up, samples leave the interval alone.
  popAll(recorder);
  g_intervalBytes.store(1024);
  recorder.record(blockPointer(40'000 + i++), 64, 1024);
  CHECK_EQ(g_intervalBytes.load(), uint64_t{1024});
  CHECK_EQ(recorder.counters().backlogWidenings.load(), uint64_t{3});
  popAll(recorder);
  g_intervalBytes.store(0);
}

TEST("the widest interval a backlog sets is 1 TiB") {
  using allocscope::sampler::g_intervalBytes;
  using allocscope::sampler::widenForBacklog;
  g_intervalBytes.store(uint64_t{3} << 38);
  CHECK(widenForBacklog(uint64_t{3} << 38));
  CHECK_EQ(g_intervalBytes.load(), uint64_t{1} << 40);
  CHECK(!widenForBacklog(uint64_t{1} << 40));
  CHECK_EQ(g_intervalBytes.load(), uint64_t{1} << 40);
  g_intervalBytes.store(0);
  CHECK(!widenForBacklog(0));
  CHECK_EQ(g_intervalBytes.load(), uint64_t{0});
}

TEST("every kSamplesPerWake samples wake the drain, however long its wait") {
  SampleRecorder& recorder = emptyRecorder();
  recorder.setStackDepth(4);
  recorder.drainSignal().wait(std::chrono::milliseconds(1));  // consume an earlier test's post
  // Any kSamplesPerWake consecutive samples include one whose id is a multiple of it.
  for (uint64_t i = 0; i < SampleRecorder::kSamplesPerWake; ++i) recorder.record(blockPointer(20'000 + i), 64, 1024);
  auto start = std::chrono::steady_clock::now();
  recorder.drainSignal().wait(std::chrono::minutes(1));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  popAll(recorder);
}

TEST("an address that finds no table cell is counted and leaves an empty record (id 0)") {
  SampleRecorder& recorder = emptyRecorder();
  recorder.setStackDepth(4);
  std::mt19937_64 random(9);
  size_t capacity = SampleRecorder::kTableCapacity, slots = SampleRecorder::kFilterSlots;
  // One more address than a probe window holds, all with the same home cell.
  std::vector<uintptr_t> addresses;
  for (int i = 0; i <= allocscope::aggregate::AddressTable::kMaxProbe; ++i) addresses.push_back(addressWith(random, 7, capacity, i, slots));
  for (uintptr_t address : addresses) recorder.record(reinterpret_cast<void*>(address), 100, 1024);
  CHECK_EQ(recorder.counters().samples.load(), uint64_t(allocscope::aggregate::AddressTable::kMaxProbe));
  CHECK_EQ(recorder.counters().droppedTableFull.load(), uint64_t{1});
  std::vector<SampleRecord> records = popAll(recorder);
  REQUIRE(records.size() == addresses.size());
  CHECK_EQ(records.back().sampleId, uint64_t{0});
  CHECK(!recorder.table().mayContain(addresses.back()));  // its own filter slot: no count left behind
  for (size_t i = 0; i + 1 < addresses.size(); ++i) CHECK_EQ(recorder.table().remove(addresses[i]), records[i].sampleId);
}

// NativeSession::start calls clear() for a new session after stop() joined the drain thread
// without draining: records still in the ring belong to the old session. If clear() keeps them,
// the new session's first drain counts them (old stacks, weighed with the new interval) in its
// alloc totals.
TEST("clear forgets samples still in the ring (a new session starts from nothing)") {
  SampleRecorder& recorder = emptyRecorder();
  for (uint64_t i = 0; i < 5; ++i) recorder.record(blockPointer(20000 + i), 4096, 1024);
  recorder.clear();
  CHECK(!recorder.table().mayContain(blockAddress(20000)));
  CHECK_EQ(recorder.counters().samples.load(), uint64_t{0});
  size_t stale = popAll(recorder).size();
  CHECK_EQ(stale, size_t{0});
}

TAP_MAIN()
