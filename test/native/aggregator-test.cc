// Unit tests of native/aggregate/aggregator.cc: records pushed into a real ring (addresses into a
// real AddressTable, as SampleRecorder::record does), drained and snapshotted per stack.
#include "aggregate/aggregator.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "sampler/sampler.h"
#include "table-fixtures.h"
#include "tap.h"

using allocscope::aggregate::AddressTable;
using allocscope::aggregate::AggregateSnapshot;
using allocscope::aggregate::Aggregator;
using allocscope::aggregate::SampleRing;
using allocscope::aggregate::StackTotals;
using allocscope::ring::SampleRecord;
using allocscope::sampler::sampleWeight;

namespace {

using Stack = std::vector<uintptr_t>;

constexpr uint64_t kInterval = 1024;

// Fixture owns what SampleRecorder owns: the ring and the address table, on caller storage.
struct Fixture {
  explicit Fixture(size_t ringCapacity = 64, size_t tableCapacity = 1 << 12)
      : ringStorage(::operator new(SampleRing::bytesFor(ringCapacity), std::align_val_t(64))),
        ring(ringStorage, ringCapacity),
        owned(tableCapacity, tableCapacity) {}
  ~Fixture() { ::operator delete(ringStorage, std::align_val_t(64)); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  // record mirrors SampleRecorder::record: the stack and the address are written, then the
  // record is published (with id 0 when the address found no cell).
  bool record(uintptr_t address, uint64_t sampleId, uint64_t sizeBytes, const Stack& frames,
              uint64_t intervalBytes = kInterval) {
    bool inserted = false;
    bool pushed = ring.tryPush([&](SampleRecord& record) {
      record.sizeBytes = sizeBytes;
      record.intervalBytes = intervalBytes;
      record.depth = static_cast<uint32_t>(frames.size());
      for (size_t i = 0; i < frames.size(); ++i) record.frames[i] = frames[i];
      inserted = table.insert(address, sampleId);
      record.sampleId = inserted ? sampleId : 0;
    });
    return pushed && inserted;
  }
  // free mirrors SampleRecorder::forget.
  void free(uintptr_t address) {
    if (table.mayContain(address)) table.remove(address);
  }

  void* ringStorage;
  SampleRing ring;
  OwnedTable owned;
  AddressTable& table = owned.table;
  Aggregator aggregator;
};

// totalsFor finds a stack in a snapshot; nullptr when absent.
const StackTotals* totalsFor(const AggregateSnapshot& snapshot, const Stack& stack) {
  for (size_t i = 0; i < snapshot.stacks.size(); ++i) {
    if (snapshot.stacks[i] == stack) return &snapshot.totals[i];
  }
  return nullptr;
}

int countOf(const AggregateSnapshot& snapshot, const Stack& stack) {
  int count = 0;
  for (const Stack& s : snapshot.stacks) count += s == stack;
  return count;
}

bool near(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b)); }

const Stack kStackA = {0x401000, 0x402000, 0x403000};
const Stack kStackB = {0x501000, 0x502000};

}  // namespace

TEST("snapshot: alloc and in-use totals per stack, unbiased by sampleWeight") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  REQUIRE(f.record(0x10100, 2, 512, kStackA));
  REQUIRE(f.record(0x10200, 3, 512, kStackA));
  REQUIRE(f.record(0x20000, 4, 4096, kStackB));
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.stacks.size(), size_t{2});
  CHECK_EQ(snapshot.totals.size(), snapshot.stacks.size());
  CHECK_EQ(snapshot.liveSamples, uint64_t{4});
  const StackTotals* a = totalsFor(snapshot, kStackA);
  const StackTotals* b = totalsFor(snapshot, kStackB);
  REQUIRE(a != nullptr && b != nullptr);
  double wa = sampleWeight(512, kInterval), wb = sampleWeight(4096, kInterval);
  CHECK(near(a->allocObjects, 3 * wa));
  CHECK(near(a->allocBytes, 3 * wa * 512));
  CHECK(near(a->inuseObjects, 3 * wa));
  CHECK(near(a->inuseBytes, 3 * wa * 512));
  CHECK(near(b->allocObjects, wb));
  CHECK(near(b->allocBytes, wb * 4096));
  CHECK(near(b->inuseObjects, wb));
  CHECK(near(b->inuseBytes, wb * 4096));
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{4});
  CHECK_EQ(f.aggregator.droppedStackTableFull(), uint64_t{0});

  // A second snapshot with nothing new reports the same (in-use is recomputed, not added up).
  AggregateSnapshot again = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* a2 = totalsFor(again, kStackA);
  REQUIRE(a2 != nullptr);
  CHECK(near(a2->allocBytes, a->allocBytes));
  CHECK(near(a2->inuseBytes, a->inuseBytes));
}

TEST("snapshot: each sample weighs by the interval that took it (the sample budget moves it)") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA, 1024));
  REQUIRE(f.record(0x10100, 2, 512, kStackA, 1u << 20));
  REQUIRE(f.record(0x10200, 3, 512, kStackA, 1u << 20));
  f.free(0x10100);
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* a = totalsFor(snapshot, kStackA);
  REQUIRE(a != nullptr);
  double narrow = sampleWeight(512, 1024), wide = sampleWeight(512, 1u << 20);
  CHECK(near(a->allocObjects, narrow + 2 * wide));
  CHECK(near(a->allocBytes, (narrow + 2 * wide) * 512));
  // The sample freed was a wide one: in use are one narrow and one wide.
  CHECK(near(a->inuseObjects, narrow + wide));
  CHECK(near(a->inuseBytes, (narrow + wide) * 512));
}

namespace {
// The tag tagHighFrames sets: a test changes it to stand for JS code that moved.
uintptr_t g_jsTag = uintptr_t{1} << 62;
// Tags JIT-like frames (above 0x9000) the way the JS code map tags JS frames.
void tagHighFrames(uintptr_t* frames, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (frames[i] >= 0x9000) frames[i] |= g_jsTag;
  }
}
}  // namespace

TEST("a record published with id 0 (its address found no table cell) is skipped by the drain") {
  Fixture f(64, 16);
  std::mt19937_64 random(3);
  // 16 addresses fill the whole table; the 17th has no cell and is published empty.
  for (uint64_t i = 0; i < 16; ++i) REQUIRE(f.record(addressWith(random, i, 16, 0, 16), i + 1, 512, kStackA));
  uintptr_t homeless = addressWith(random, 0, 16, 0, 16);
  CHECK(!f.record(homeless, 99, 1 << 20, kStackB));
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK(totalsFor(snapshot, kStackB) == nullptr);
  CHECK_EQ(snapshot.liveSamples, uint64_t{16});
}

TEST("a frame translator rewrites each new stack once; equal translations share one stack") {
  Fixture f;
  f.aggregator.setStackTranslator(&tagHighFrames);
  REQUIRE(f.record(0x10000, 1, 512, {0x1000, 0x9001, 0x2000}));
  REQUIRE(f.record(0x10100, 2, 512, {0x1000, 0x9001, 0x2000}));
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  REQUIRE(snapshot.stacks.size() == 1);
  CHECK_EQ(snapshot.stacks[0][1], uintptr_t{0x9001} | (uintptr_t{1} << 62));
  CHECK_EQ(snapshot.stacks[0][0], uintptr_t{0x1000});
  // framesWithin lists the distinct frames in a range (what an unloading object must name).
  std::vector<uintptr_t> within = f.aggregator.framesWithin(0x1000, 0x2001);
  std::sort(within.begin(), within.end());
  CHECK(within == (std::vector<uintptr_t>{0x1000, 0x2000}));
  CHECK(f.aggregator.framesWithin(0x3000, 0x4000).empty());
}

TEST("freed samples leave in-use and the live table, but stay in alloc totals") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  REQUIRE(f.record(0x10100, 2, 512, kStackA));
  REQUIRE(f.record(0x20000, 3, 4096, kStackB));
  f.aggregator.drain(f.ring, f.table, false);
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{3});

  f.free(0x10000);
  f.free(0x20000);
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.liveSamples, uint64_t{1});
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{1});
  const StackTotals* a = totalsFor(snapshot, kStackA);
  const StackTotals* b = totalsFor(snapshot, kStackB);
  REQUIRE(a != nullptr && b != nullptr);
  double wa = sampleWeight(512, kInterval), wb = sampleWeight(4096, kInterval);
  CHECK(near(a->allocObjects, 2 * wa));
  CHECK(near(a->inuseObjects, wa));
  CHECK(near(a->inuseBytes, wa * 512));
  CHECK(near(b->allocBytes, wb * 4096));
  CHECK_EQ(b->inuseObjects, 0.0);
  CHECK_EQ(b->inuseBytes, 0.0);

  // The address comes back in a new sample: counted once, under its new id.
  REQUIRE(f.record(0x10000, 4, 512, kStackB));
  snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.liveSamples, uint64_t{2});
  b = totalsFor(snapshot, kStackB);
  REQUIRE(b != nullptr);
  CHECK(near(b->inuseObjects, wa));
  CHECK(near(b->allocObjects, wb + wa));
}

TEST("drain with prune drops freed samples from the live table; without prune it keeps them") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 100, kStackA));
  REQUIRE(f.record(0x10100, 2, 100, kStackA));
  f.free(0x10000);
  f.aggregator.drain(f.ring, f.table, false);
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{2});
  f.aggregator.drain(f.ring, f.table, true);
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{1});
  f.free(0x10100);
  f.aggregator.drain(f.ring, f.table, true);
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{0});
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* a = totalsFor(snapshot, kStackA);
  REQUIRE(a != nullptr);
  CHECK(near(a->allocObjects, 2 * sampleWeight(100, kInterval)));
  CHECK_EQ(a->inuseObjects, 0.0);
}

TEST("a sample freed before its record is drained counts as allocated, never as in use") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 2048, kStackA));
  f.free(0x10000);
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* a = totalsFor(snapshot, kStackA);
  REQUIRE(a != nullptr);
  CHECK(near(a->allocBytes, sampleWeight(2048, kInterval) * 2048));
  CHECK_EQ(a->inuseBytes, 0.0);
  CHECK_EQ(snapshot.liveSamples, uint64_t{0});
}

TEST("a live address whose record is not drained yet is not counted until it is") {
  Fixture f;
  REQUIRE(f.table.insert(0x30000, 7));  // the hook is between insert and push
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK(snapshot.stacks.empty());
  CHECK_EQ(snapshot.liveSamples, uint64_t{0});
  REQUIRE(f.ring.tryPush([](SampleRecord& record) {
    record.sampleId = 7;
    record.sizeBytes = 64;
    record.intervalBytes = kInterval;
    record.depth = 2;
    record.frames[0] = kStackB[0];
    record.frames[1] = kStackB[1];
  }));
  snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* b = totalsFor(snapshot, kStackB);
  REQUIRE(b != nullptr);
  CHECK(near(b->inuseObjects, sampleWeight(64, kInterval)));
  CHECK_EQ(snapshot.liveSamples, uint64_t{1});
}

TEST("identical stacks are interned once; prefixes and empty stacks are distinct stacks") {
  Fixture f;
  uint64_t id = 1;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 40; ++i, ++id) REQUIRE(f.record(0x100000 + 16 * id, id, 32, kStackA));
    f.aggregator.drain(f.ring, f.table, false);  // the ring holds 64: drain as we go
  }
  Stack prefix(kStackA.begin(), kStackA.begin() + 2);
  REQUIRE(f.record(0x100000 + 16 * id, id, 32, prefix));
  ++id;
  REQUIRE(f.record(0x100000 + 16 * id, id, 32, Stack{}));
  ++id;
  Stack deep(allocscope::ring::kMaxFrames);
  for (size_t i = 0; i < deep.size(); ++i) deep[i] = 0x700000 + i;
  REQUIRE(f.record(0x100000 + 16 * id, id, 32, deep));
  ++id;
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.stacks.size(), size_t{4});
  CHECK_EQ(countOf(snapshot, kStackA), 1);
  CHECK_EQ(countOf(snapshot, prefix), 1);
  CHECK_EQ(countOf(snapshot, Stack{}), 1);
  CHECK_EQ(countOf(snapshot, deep), 1);
  const StackTotals* a = totalsFor(snapshot, kStackA);
  REQUIRE(a != nullptr);
  CHECK(near(a->allocObjects, 200 * sampleWeight(32, kInterval)));
  CHECK(near(a->inuseObjects, 200 * sampleWeight(32, kInterval)));
  CHECK_EQ(snapshot.liveSamples, uint64_t{203});
}

TEST("budget: past maxBytes new stacks are dropped and counted; known stacks still accumulate") {
  Fixture f;
  // Measure what one stack with one sample costs, then allow about three.
  {
    Fixture probe;
    REQUIRE(probe.record(0x1000, 1, 64, kStackA));
    probe.aggregator.drain(probe.ring, probe.table, false);
    size_t one = probe.aggregator.bytesUsed();
    CHECK_GT(one, size_t{0});
    f.aggregator.setBudget(one * 3 - 1);
  }
  std::vector<Stack> stacks;
  for (uintptr_t i = 0; i < 10; ++i) stacks.push_back(Stack{0x401000 + i * 0x10, 0x402000 + i * 0x10, 0x403000});
  uint64_t id = 1;
  for (const Stack& stack : stacks) {
    REQUIRE(f.record(0x200000 + 16 * id, id, 64, stack));
    ++id;
  }
  f.aggregator.drain(f.ring, f.table, false);
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.stacks.size(), size_t{3});
  CHECK_EQ(f.aggregator.droppedStackTableFull(), uint64_t{7});
  for (size_t i = 0; i < 3; ++i) CHECK_EQ(countOf(snapshot, stacks[i]), 1);
  // Dropped samples are neither live nor in-use, though their addresses sit in the table.
  CHECK_EQ(snapshot.liveSamples, uint64_t{3});

  // Known stacks still take samples; new ones are still refused.
  for (int i = 0; i < 5; ++i, ++id) REQUIRE(f.record(0x200000 + 16 * id, id, 64, stacks[0]));
  REQUIRE(f.record(0x200000 + 16 * id, id, 64, stacks[9]));
  ++id;
  snapshot = f.aggregator.snapshot(f.ring, f.table, false);
  CHECK_EQ(snapshot.stacks.size(), size_t{3});
  CHECK_EQ(f.aggregator.droppedStackTableFull(), uint64_t{8});
  const StackTotals* first = totalsFor(snapshot, stacks[0]);
  REQUIRE(first != nullptr);
  CHECK(near(first->allocObjects, 6 * sampleWeight(64, kInterval)));
  CHECK(near(first->inuseObjects, 6 * sampleWeight(64, kInterval)));

  // reset forgets stacks, samples and the drop count.
  f.aggregator.reset();
  CHECK_EQ(f.aggregator.droppedStackTableFull(), uint64_t{0});
  CHECK_EQ(f.aggregator.liveSamples(), uint64_t{0});
  CHECK_EQ(f.aggregator.bytesUsed(), size_t{0});
  CHECK(f.aggregator.snapshot(f.ring, f.table, false).stacks.empty());
}

TEST("perPeriod: a stack idle for a period, its samples freed, is gone from the next period's snapshot") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  REQUIRE(f.record(0x20000, 2, 512, kStackB));
  AggregateSnapshot first = f.aggregator.snapshot(f.ring, f.table, true);
  CHECK_EQ(first.stacks.size(), size_t{2});  // both sampled in the first period
  size_t bytesWithBoth = f.aggregator.bytesUsed();

  f.free(0x10000);
  REQUIRE(f.record(0x20100, 3, 512, kStackB));
  AggregateSnapshot second = f.aggregator.snapshot(f.ring, f.table, true);
  CHECK(totalsFor(second, kStackA) == nullptr);
  CHECK_EQ(second.stacks.size(), size_t{1});
  const StackTotals* b = totalsFor(second, kStackB);
  REQUIRE(b != nullptr);
  CHECK(near(b->allocObjects, sampleWeight(512, kInterval)));  // this period's sample only
  CHECK(near(b->allocBytes, sampleWeight(512, kInterval) * 512));
  CHECK(near(b->inuseObjects, 2 * sampleWeight(512, kInterval)));  // both are live
  CHECK_LT(f.aggregator.bytesUsed(), bytesWithBoth);
  CHECK(f.aggregator.framesWithin(kStackA.front(), kStackA.back() + 1).empty());
}

TEST("perPeriod: a stack with a live sample is kept, however long it stays idle, with nothing allocated after its period") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  for (int period = 0; period < 4; ++period) {
    AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, true);
    const StackTotals* a = totalsFor(snapshot, kStackA);
    REQUIRE(a != nullptr);
    CHECK(near(a->allocObjects, period == 0 ? sampleWeight(512, kInterval) : 0.0));
    CHECK(near(a->inuseBytes, sampleWeight(512, kInterval) * 512));
  }
  // Once freed it is idle and has nothing live: forgotten.
  f.free(0x10000);
  CHECK(f.aggregator.snapshot(f.ring, f.table, true).stacks.empty());
  CHECK_EQ(f.aggregator.bytesUsed(), size_t{0});
}

TEST("perPeriod: a stack sampled again once forgotten comes back, translated again, with only its new totals") {
  Fixture f;
  f.aggregator.setStackTranslator(&tagHighFrames);
  const Stack raw = {0x1000, 0x9001};
  const Stack before = {0x1000, 0x9001 | g_jsTag};
  REQUIRE(f.record(0x10000, 1, 512, raw));
  REQUIRE(f.record(0x10100, 2, 512, raw));
  f.free(0x10000);
  f.free(0x10100);
  CHECK(totalsFor(f.aggregator.snapshot(f.ring, f.table, true), before) != nullptr);
  CHECK(f.aggregator.snapshot(f.ring, f.table, true).stacks.empty());

  // The code moved meanwhile: the raw stack now means another JS frame.
  const uintptr_t tagBefore = g_jsTag;
  g_jsTag = uintptr_t{1} << 61;
  const Stack after = {0x1000, 0x9001 | g_jsTag};
  REQUIRE(f.record(0x10200, 3, 512, raw));
  AggregateSnapshot back = f.aggregator.snapshot(f.ring, f.table, true);
  g_jsTag = tagBefore;
  CHECK_EQ(back.stacks.size(), size_t{1});
  CHECK(totalsFor(back, before) == nullptr);
  const StackTotals* totals = totalsFor(back, after);
  REQUIRE(totals != nullptr);
  CHECK(near(totals->allocObjects, sampleWeight(512, kInterval)));
  CHECK(near(totals->inuseObjects, sampleWeight(512, kInterval)));
}

TEST("without perPeriod nothing is forgotten: alloc totals count since start, also between periods") {
  Fixture f;
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  f.free(0x10000);
  for (int period = 0; period < 3; ++period) {
    AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, false);
    const StackTotals* a = totalsFor(snapshot, kStackA);
    REQUIRE(a != nullptr);
    CHECK(near(a->allocObjects, sampleWeight(512, kInterval)));
    CHECK_EQ(a->inuseObjects, 0.0);
  }
  REQUIRE(f.record(0x10100, 2, 512, kStackA));
  AggregateSnapshot later = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* a = totalsFor(later, kStackA);
  REQUIRE(a != nullptr);
  CHECK(near(a->allocObjects, 2 * sampleWeight(512, kInterval)));
}

TEST("a cumulative snapshot between two period snapshots changes neither") {
  Fixture f;
  double w = sampleWeight(512, kInterval);
  REQUIRE(f.record(0x10000, 1, 512, kStackA));
  AggregateSnapshot first = f.aggregator.snapshot(f.ring, f.table, true);
  REQUIRE(totalsFor(first, kStackA) != nullptr);
  CHECK(near(totalsFor(first, kStackA)->allocObjects, w));
  REQUIRE(f.record(0x10100, 2, 512, kStackA));
  AggregateSnapshot between = f.aggregator.snapshot(f.ring, f.table, false);
  const StackTotals* cumulative = totalsFor(between, kStackA);
  REQUIRE(cumulative != nullptr);
  CHECK(near(cumulative->allocObjects, 2 * w));
  AggregateSnapshot second = f.aggregator.snapshot(f.ring, f.table, true);
  const StackTotals* period = totalsFor(second, kStackA);
  REQUIRE(period != nullptr);
  CHECK(near(period->allocObjects, w));
  CHECK(near(period->inuseObjects, 2 * w));
}

TEST("perPeriod: the stacks kept are renumbered, and their samples still count where they belong") {
  Fixture f;
  f.aggregator.setStackTranslator(&tagHighFrames);
  // Twelve stacks, interleaved: forgotten (idle, freed), kept (idle, live), kept (sampled).
  // Two raw stacks of each translate to one stack (one's JS frame is tagged already).
  auto rawStack = [](int stack, int variant) { return Stack{0x1000 + 0x10 * uintptr_t(stack), 0x9000 | (variant == 0 ? 0 : g_jsTag)}; };
  auto stackOf = [](int stack) { return Stack{0x1000 + 0x10 * uintptr_t(stack), 0x9000 | g_jsTag}; };
  constexpr int kStacks = 12;
  uint64_t id = 1;
  auto address = [](uint64_t sampleId) { return 0x100000 + 0x100 * sampleId; };
  for (int stack = 0; stack < kStacks; ++stack) {
    for (int variant = 0; variant < 2; ++variant, ++id) REQUIRE(f.record(address(id), id, 64 * (stack + 1), rawStack(stack, variant)));
  }
  f.aggregator.snapshot(f.ring, f.table, true);
  // Period 2: stacks 0, 3, 6, 9 have their samples freed; 2, 5, 8, 11 are sampled again.
  for (int stack = 0; stack < kStacks; stack += 3) {
    for (int variant = 0; variant < 2; ++variant) f.free(address(1 + 2 * stack + variant));
  }
  for (int stack = 2; stack < kStacks; stack += 3, ++id) REQUIRE(f.record(address(id), id, 64 * (stack + 1), rawStack(stack, 1)));
  size_t bytesBefore = f.aggregator.bytesUsed();
  AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, true);
  CHECK_EQ(snapshot.stacks.size(), size_t{8});
  CHECK_LT(f.aggregator.bytesUsed(), bytesBefore);
  CHECK_EQ(snapshot.liveSamples, uint64_t{8 * 2 + 4});
  // Period 3: every kept stack takes a sample through each raw stack, and stack 1's first
  // samples are freed.
  for (int stack = 0; stack < kStacks; ++stack) {
    if (stack % 3 == 0) continue;
    for (int variant = 0; variant < 2; ++variant, ++id) REQUIRE(f.record(address(id), id, 64 * (stack + 1), rawStack(stack, variant)));
  }
  f.free(address(3));
  f.free(address(4));
  snapshot = f.aggregator.snapshot(f.ring, f.table, true);
  CHECK_EQ(snapshot.stacks.size(), size_t{8});
  for (int stack = 0; stack < kStacks; ++stack) {
    const StackTotals* totals = totalsFor(snapshot, stackOf(stack));
    if (stack % 3 == 0) {
      CHECK(totals == nullptr);
      continue;
    }
    if (!CHECK(totals != nullptr)) continue;
    double w = sampleWeight(64 * (stack + 1), kInterval);
    int allocated = 2 + 2 + (stack % 3 == 2 ? 1 : 0);
    int live = stack == 1 ? allocated - 2 : allocated;
    CHECK(near(totals->allocObjects, 2 * w));  // this period's two
    CHECK(near(totals->allocBytes, 2 * w * 64 * (stack + 1)));
    CHECK(near(totals->inuseObjects, live * w));
    CHECK(near(totals->inuseBytes, live * w * 64 * (stack + 1)));
  }
}

namespace {
// runConcurrent: 2 producers record and free while this thread drains, prunes and snapshots.
// Besides 4 steady stacks, a producer's samples go now and then to one of 8 rotating stacks,
// freed at once, which it moves through as it goes and comes back to: with perPeriod they
// are forgotten while unused and interned again later. The snapshots' per-period alloc totals
// (perPeriod), or the differences of their cumulative ones (minus the previous snapshot's, 0
// for a stack absent from it), must add up to what was recorded.
void runConcurrent(bool perPeriod) {
  constexpr int kProducers = 2;
  constexpr uint64_t kPerProducer = 20000;
  Fixture f(256, 1 << 14);
  std::vector<Stack> stacks = {kStackA, kStackB, {0x601000}, {0x601000, 0x602000, 0x603000, 0x604000}};
  constexpr int kSteady = 4;
  constexpr int kRotating = 8;
  for (uintptr_t r = 0; r < kRotating; ++r) stacks.push_back({0x701000 + 0x10 * r, 0x702000});
  constexpr int kStacks = kSteady + kRotating;
  const uint64_t sizes[] = {16, 700, 4096, 100000};
  constexpr uint64_t kBigInterval = 64 * 1024;

  struct Expected {
    double allocObjects[kStacks] = {};
    double allocBytes[kStacks] = {};
    std::map<uintptr_t, std::pair<int, uint64_t>> live;  // address -> stack, size
  };
  std::vector<Expected> expected(kProducers);
  std::atomic<int> producersDone{0};
  std::atomic<uint64_t> ringFull{0};
  std::atomic<uint64_t> tableFull{0};

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937_64 random(p + 1);
      Expected& mine = expected[p];
      std::vector<uintptr_t> liveAddresses;
      uint64_t nextAddress = (uint64_t(p) + 1) << 32;
      for (uint64_t n = 0; n < kPerProducer; ++n) {
        int pick = static_cast<int>(random() % 5);
        bool rotating = pick == kSteady;
        int k = rotating ? kSteady + static_cast<int>((n / 1000) % kRotating) : pick;
        uint64_t size = sizes[pick % kSteady];
        uintptr_t address = nextAddress;
        nextAddress += 0x40;
        uint64_t id = (uint64_t(p + 1) << 40) | (n + 1);
        // Like SampleRecorder::record, but retried while the ring is full so every sample lands.
        if (!f.table.insert(address, id)) {
          tableFull.fetch_add(1);
          continue;
        }
        while (!f.ring.tryPush([&](SampleRecord& record) {
          record.sampleId = id;
          record.sizeBytes = size;
          record.intervalBytes = kBigInterval;
          record.depth = static_cast<uint32_t>(stacks[k].size());
          for (size_t i = 0; i < stacks[k].size(); ++i) record.frames[i] = stacks[k][i];
        })) {
          ringFull.fetch_add(1);
          std::this_thread::yield();
        }
        double w = sampleWeight(size, kBigInterval);
        mine.allocObjects[k] += w;
        mine.allocBytes[k] += w * static_cast<double>(size);
        if (rotating) {
          f.free(address);
          continue;
        }
        mine.live[address] = {k, size};
        liveAddresses.push_back(address);
        if (random() % 2 == 0 || liveAddresses.size() > 3000) {  // free a random live block
          size_t at = random() % liveAddresses.size();
          f.free(liveAddresses[at]);
          mine.live.erase(liveAddresses[at]);
          liveAddresses[at] = liveAddresses.back();
          liveAddresses.pop_back();
        }
      }
      producersDone.fetch_add(1);
    });
  }

  std::map<Stack, std::pair<double, double>> previous;  // stack -> alloc objects, bytes
  std::map<Stack, std::pair<double, double>> periodSums;
  int forgotten = 0;
  auto takeSnapshot = [&]() {
    AggregateSnapshot snapshot = f.aggregator.snapshot(f.ring, f.table, perPeriod);
    std::map<Stack, std::pair<double, double>> current;
    for (size_t i = 0; i < snapshot.stacks.size(); ++i) {
      const Stack& stack = snapshot.stacks[i];
      current[stack] = {snapshot.totals[i].allocObjects, snapshot.totals[i].allocBytes};
      auto before = previous.find(stack);
      bool cumulative = !perPeriod && before != previous.end();
      periodSums[stack].first += current[stack].first - (cumulative ? before->second.first : 0);
      periodSums[stack].second += current[stack].second - (cumulative ? before->second.second : 0);
    }
    for (const auto& [stack, totals] : previous) forgotten += current.count(stack) == 0;
    previous = std::move(current);
    return snapshot;
  };
  int rounds = 0;
  while (producersDone.load() < kProducers) {
    if (rounds % 4 == 3) {
      takeSnapshot();
    } else {
      f.aggregator.drain(f.ring, f.table, true);
    }
    ++rounds;
    std::this_thread::yield();
  }
  for (auto& producer : producers) producer.join();
  AggregateSnapshot snapshot = takeSnapshot();

  uint64_t liveCount = 0;
  double inuseObjects[kStacks] = {}, inuseBytes[kStacks] = {}, allocObjects[kStacks] = {}, allocBytes[kStacks] = {};
  for (const Expected& mine : expected) {
    liveCount += mine.live.size();
    for (int k = 0; k < kStacks; ++k) {
      allocObjects[k] += mine.allocObjects[k];
      allocBytes[k] += mine.allocBytes[k];
    }
    for (auto& [address, stackAndSize] : mine.live) {
      double w = sampleWeight(stackAndSize.second, kBigInterval);
      inuseObjects[stackAndSize.first] += w;
      inuseBytes[stackAndSize.first] += w * static_cast<double>(stackAndSize.second);
    }
  }
  CHECK_EQ(tableFull.load(), uint64_t{0});
  CHECK_EQ(snapshot.liveSamples, liveCount);
  for (int k = 0; k < kStacks; ++k) {
    CHECK_NEAR(periodSums[stacks[k]].first, allocObjects[k], 1e-9);
    CHECK_NEAR(periodSums[stacks[k]].second, allocBytes[k], 1e-9);
    // A stack absent from the last snapshot (forgotten) has nothing live.
    const StackTotals* totals = totalsFor(snapshot, stacks[k]);
    CHECK_NEAR(totals == nullptr ? 0.0 : totals->inuseObjects, inuseObjects[k], 1e-9);
    CHECK_NEAR(totals == nullptr ? 0.0 : totals->inuseBytes, inuseBytes[k], 1e-9);
  }
  if (perPeriod) {
    // Two periods with no samples: only the stacks with live samples stay.
    takeSnapshot();
    AggregateSnapshot idle = takeSnapshot();
    for (size_t i = 0; i < idle.stacks.size(); ++i) CHECK_GT(idle.totals[i].inuseObjects, 0.0);
    for (int k = 0; k < kStacks; ++k) CHECK_EQ(totalsFor(idle, stacks[k]) != nullptr, inuseObjects[k] > 0);
  } else {
    CHECK_EQ(snapshot.stacks.size(), size_t{kStacks});
    CHECK_EQ(forgotten, 0);
  }
  tap::note("%d drain rounds, %llu ring-full retries, %llu live at the end, %d stacks forgotten", rounds,
            static_cast<unsigned long long>(ringFull.load()), static_cast<unsigned long long>(liveCount), forgotten);
}
}  // namespace

TEST("concurrent: 2 producers record and free while a drain thread drains, prunes and snapshots") {
  runConcurrent(false);
}

TEST("concurrent, perPeriod: per-period alloc totals add up to what was recorded though idle stacks come and go") {
  runConcurrent(true);
}

TAP_MAIN()
