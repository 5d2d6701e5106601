// Byte sampling: exponentially distributed gaps between samples, so each byte is equally likely to be taken.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "sampler/thread-state.h"

namespace allocscope::sampler {

// The mean gap in bytes for gaps drawn from now on (0 when not sampling: the running session's
// interval, widened by its sample budget), and the session's number.
extern std::atomic<uint64_t> g_intervalBytes;
extern std::atomic<uint32_t> g_session;
// Hands each thread a distinct seed: glibc reuses thread stacks and TLS blocks, so a seed taken
// from the state's address gave short-lived threads identical gaps.
extern std::atomic<uint64_t> g_seedSequence;

// splitmix64: turns consecutive seeds into unrelated ones.
inline uint64_t mixSeed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return (x ^ (x >> 31)) | 1;
}

// xorshift64*: a few cycles, and only run on sampled events.
inline uint64_t nextRandom(ThreadState& state) {
  uint64_t x = state.random;
  if (x == 0) x = mixSeed(g_seedSequence.fetch_add(1, std::memory_order_relaxed) ^ __builtin_ia32_rdtsc());
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  state.random = x;
  return x * 0x2545F4914F6CDD1Dull;
}

// An exponentially distributed gap with the given mean: -mean * ln(U), U uniform in (0, 1].
inline int64_t drawGap(ThreadState& state, uint64_t meanBytes) {
  double uniform = (static_cast<double>(nextRandom(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  return static_cast<int64_t>(-std::log(uniform) * static_cast<double>(meanBytes)) + 1;
}

// The longest countdown a thread runs before it looks at the session again. A longer gap is
// run in pieces of this size, so that a thread left with a gap drawn for a much larger interval
// (or while no session ran) joins a new session, or takes up an interval the sample budget
// narrowed, after at most this many bytes.
constexpr int64_t kLongestCountdown = 1 << 20;

// countDown is the whole common path: one TLS decrement and a compare. It returns true while
// the allocation is certainly not sampled; otherwise onCountdownCrossed decides.
inline bool countDown(size_t size) {
  ThreadState& state = t_state;
  state.bytesUntilSample -= static_cast<int64_t>(size);
  return state.bytesUntilSample > 0;
}

// onCountdownCrossed is the rare part, out of line: when the allocation of `size` bytes that
// crossed the countdown is to be sampled, it returns the mean gap that sampled it (what the
// sample weighs by), else 0; and it sets the next countdown.
uint64_t onCountdownCrossed(ThreadState& state, size_t size);

// widenForBacklog doubles the interval in force if it is still `sampledAt` (the interval that
// sampled the allocation being recorded), up to 1 TiB; true when it did. SampleRecorder calls it
// when the ring is nearly full: the drain thread is behind, and shedding samples now beats
// dropping them. A compare-and-swap, so that threads recording at the same interval double it
// once between them, and an interval set to 0 by stop() stays 0. Never allocates or blocks.
bool widenForBacklog(uint64_t sampledAt);

// The factor that unbiases one sample of `size` bytes: 1 / P(sampled) = 1 / (1 - exp(-size/interval)).
inline double sampleWeight(uint64_t size, uint64_t interval) {
  if (size == 0) return 1.0;
  return 1.0 / -std::expm1(-static_cast<double>(size) / static_cast<double>(interval));
}

}  // namespace allocscope::sampler
