// Unit tests of native/ring/ring-buffer.h: FIFO order, full and empty rings, wrap-around, and
// many producers against one consumer (every record once, in per-producer order, never torn).
#include "ring/ring-buffer.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "ring/sample-record.h"
#include "tap.h"

using allocscope::ring::kMaxFrames;
using allocscope::ring::RingBuffer;
using allocscope::ring::SampleRecord;

namespace {

// OwnedRing allocates the caller-provided storage a RingBuffer expects, as SampleRecorder does.
template <typename Record>
struct OwnedRing {
  using Ring = RingBuffer<Record>;
  explicit OwnedRing(size_t capacity)
      : storage(::operator new(Ring::bytesFor(capacity), std::align_val_t(64))), ring(storage, capacity) {}
  ~OwnedRing() { ::operator delete(storage, std::align_val_t(64)); }
  OwnedRing(const OwnedRing&) = delete;
  OwnedRing& operator=(const OwnedRing&) = delete;

  void* storage;
  Ring ring;
};

struct Value {
  uint64_t value;
};

uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

}  // namespace

TEST("bytesFor and capacity") {
  using Ring = RingBuffer<Value>;
  CHECK_EQ(Ring::bytesFor(16), 16 * sizeof(Ring::Cell));
  OwnedRing<Value> owned(16);
  CHECK_EQ(owned.ring.capacity(), size_t{16});
}

TEST("single thread: pop returns records in push order; empty pop does not call use") {
  OwnedRing<Value> owned(8);
  auto& ring = owned.ring;
  bool called = false;
  CHECK(!ring.tryPop([&](Value&) { called = true; }));
  CHECK(!called);
  for (uint64_t i = 1; i <= 5; ++i) CHECK(ring.tryPush([&](Value& record) { record.value = i * 10; }));
  for (uint64_t i = 1; i <= 5; ++i) {
    uint64_t seen = 0;
    CHECK(ring.tryPop([&](Value& record) { seen = record.value; }));
    CHECK_EQ(seen, i * 10);
  }
  called = false;
  CHECK(!ring.tryPop([&](Value&) { called = true; }));
  CHECK(!called);
}

TEST("full ring rejects push without calling fill, and accepts again after a pop") {
  OwnedRing<Value> owned(8);
  auto& ring = owned.ring;
  for (uint64_t i = 0; i < 8; ++i) CHECK(ring.tryPush([&](Value& record) { record.value = i; }));
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool filled = false;
    CHECK(!ring.tryPush([&](Value&) { filled = true; }));
    CHECK(!filled);
  }
  uint64_t seen = 99;
  CHECK(ring.tryPop([&](Value& record) { seen = record.value; }));
  CHECK_EQ(seen, uint64_t{0});
  CHECK(ring.tryPush([&](Value& record) { record.value = 8; }));
  bool filled = false;
  CHECK(!ring.tryPush([&](Value&) { filled = true; }));
  CHECK(!filled);
  // What is left comes out in order: 1..8.
  for (uint64_t expected = 1; expected <= 8; ++expected) {
    CHECK(ring.tryPop([&](Value& record) { seen = record.value; }));
    CHECK_EQ(seen, expected);
  }
  CHECK(!ring.tryPop([](Value&) {}));
}

TEST("wrap-around many times matches a FIFO model (full and empty exactly when the model is)") {
  for (size_t capacity : {2u, 4u, 8u, 64u}) {
    OwnedRing<Value> owned(capacity);
    auto& ring = owned.ring;
    std::deque<uint64_t> model;
    std::mt19937_64 random(capacity);
    uint64_t next = 1;
    int mismatches = 0;
    size_t pushes = 0;
    // Random bursts of pushes and pops: the ring goes around ~100k/capacity times.
    while (pushes < 100000) {
      int burst = static_cast<int>(random() % (2 * capacity + 1));
      for (int i = 0; i < burst; ++i, ++pushes) {
        bool filled = false;
        bool pushed = ring.tryPush([&](Value& record) {
          filled = true;
          record.value = next;
        });
        bool expected = model.size() < capacity;
        if (pushed != expected || filled != pushed) ++mismatches;
        if (pushed) model.push_back(next++);
      }
      burst = static_cast<int>(random() % (2 * capacity + 1));
      for (int i = 0; i < burst; ++i) {
        uint64_t seen = 0;
        bool popped = ring.tryPop([&](Value& record) { seen = record.value; });
        if (popped != !model.empty()) ++mismatches;
        if (popped && !model.empty()) {
          if (seen != model.front()) ++mismatches;
          model.pop_front();
        }
      }
    }
    if (!CHECK_EQ(mismatches, 0)) tap::note("capacity %zu", capacity);
    CHECK_GT(next, uint64_t{40000});  // many records went through, not just the first few
  }
}

namespace {

struct StressRecord {
  uint32_t producer;
  uint32_t spare;
  uint64_t sequence;
  uint64_t payload[6];
  uint64_t checksum;
};

uint64_t checksumOf(const StressRecord& record) {
  uint64_t hash = mix64(record.producer * 0x9E3779B97F4A7C15ull ^ record.sequence);
  for (uint64_t word : record.payload) hash = mix64(hash ^ word);
  return hash;
}

}  // namespace

TEST("4 producers x 200k records, one consumer: each once, per-producer order kept, none torn") {
  constexpr int kProducers = 4;
  constexpr uint64_t kPerProducer = 200000;
  OwnedRing<StressRecord> owned(1024);
  auto& ring = owned.ring;
  std::atomic<bool> go{false};
  std::atomic<uint64_t> fullRetries{0};
  std::atomic<uint64_t> fillOnFailure{0};

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      uint64_t retries = 0;
      for (uint64_t sequence = 0; sequence < kPerProducer; ++sequence) {
        for (;;) {
          bool filled = false;
          bool pushed = ring.tryPush([&](StressRecord& record) {
            filled = true;
            record.producer = static_cast<uint32_t>(p);
            record.spare = 0;
            record.sequence = sequence;
            for (int i = 0; i < 6; ++i) record.payload[i] = mix64((uint64_t(p) << 48) ^ (sequence << 3) ^ uint64_t(i));
            record.checksum = checksumOf(record);
          });
          if (pushed) break;
          if (filled) fillOnFailure.fetch_add(1);
          ++retries;
          std::this_thread::yield();
        }
      }
      fullRetries.fetch_add(retries);
    });
  }

  uint64_t nextSequence[kProducers] = {};
  uint64_t received = 0, badProducer = 0, outOfOrder = 0, torn = 0, emptyPolls = 0;
  go.store(true, std::memory_order_release);
  while (received < kProducers * kPerProducer) {
    bool popped = ring.tryPop([&](StressRecord& record) {
      ++received;
      if (record.producer >= kProducers) {
        ++badProducer;
        return;
      }
      if (record.checksum != checksumOf(record)) ++torn;
      for (int i = 0; i < 6; ++i) {
        if (record.payload[i] != mix64((uint64_t(record.producer) << 48) ^ (record.sequence << 3) ^ uint64_t(i))) {
          ++torn;
          break;
        }
      }
      if (record.sequence != nextSequence[record.producer]) ++outOfOrder;
      nextSequence[record.producer] = record.sequence + 1;
    });
    if (!popped) {
      ++emptyPolls;
      std::this_thread::yield();
    }
  }
  for (auto& producer : producers) producer.join();

  CHECK_EQ(received, kProducers * kPerProducer);
  CHECK_EQ(badProducer, uint64_t{0});
  CHECK_EQ(torn, uint64_t{0});
  CHECK_EQ(outOfOrder, uint64_t{0});
  for (int p = 0; p < kProducers; ++p) CHECK_EQ(nextSequence[p], kPerProducer);  // all, none after
  CHECK_EQ(fillOnFailure.load(), uint64_t{0});
  CHECK(!ring.tryPop([](StressRecord&) {}));  // nothing extra
  tap::note("full-ring retries %llu, empty polls %llu", static_cast<unsigned long long>(fullRetries.load()),
            static_cast<unsigned long long>(emptyPolls));
}

TEST("SampleRecord through a small ring from 3 producers: frames arrive intact") {
  constexpr int kProducers = 3;
  constexpr uint64_t kPerProducer = 20000;
  OwnedRing<SampleRecord> owned(64);
  auto& ring = owned.ring;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (uint64_t sequence = 0; sequence < kPerProducer; ++sequence) {
        uint64_t id = (uint64_t(p) << 32) | sequence;
        while (!ring.tryPush([&](SampleRecord& record) {
          record.sampleId = id;
          record.sizeBytes = mix64(id) & 0xffff;
          record.depth = static_cast<uint32_t>(mix64(id ^ 1) % (kMaxFrames + 1));
          for (uint32_t i = 0; i < record.depth; ++i) record.frames[i] = static_cast<uintptr_t>(mix64(id + i));
        })) {
          std::this_thread::yield();
        }
      }
    });
  }
  uint64_t nextSequence[kProducers] = {};
  uint64_t received = 0, bad = 0;
  while (received < kProducers * kPerProducer) {
    bool popped = ring.tryPop([&](SampleRecord& record) {
      ++received;
      uint64_t p = record.sampleId >> 32, sequence = record.sampleId & 0xffffffffu;
      if (p >= kProducers || sequence != nextSequence[p]) {
        ++bad;
        return;
      }
      nextSequence[p] = sequence + 1;
      bool intact = record.sizeBytes == (mix64(record.sampleId) & 0xffff) &&
                    record.depth == mix64(record.sampleId ^ 1) % (kMaxFrames + 1);
      for (uint32_t i = 0; intact && i < record.depth; ++i) {
        intact = record.frames[i] == static_cast<uintptr_t>(mix64(record.sampleId + i));
      }
      if (!intact) ++bad;
    });
    if (!popped) std::this_thread::yield();
  }
  for (auto& producer : producers) producer.join();
  CHECK_EQ(received, kProducers * kPerProducer);
  CHECK_EQ(bad, uint64_t{0});
}

TAP_MAIN()
