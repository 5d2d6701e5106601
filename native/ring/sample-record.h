// What a sampled allocation leaves in the ring buffer: plain data, copied by value.
#pragma once

#include <cstdint>

namespace allocscope::ring {

constexpr int kMaxFrames = 128;

// One sampled allocation. Frees need no record: the address table knows what is still live.
struct SampleRecord {
  uint64_t sampleId;  // unique per process; the address table maps live addresses to it
  uint64_t sizeBytes;
  uint64_t intervalBytes;  // the mean gap that sampled it: the sample weighs 1 / P(sampled) under it
  uint32_t depth;     // frames used, leaf (the allocator's caller) first
  uintptr_t frames[kMaxFrames];
};

}  // namespace allocscope::ring
