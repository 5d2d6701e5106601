// The sampler's process-wide state, and the rare path of its per-allocation countdown.
#include "sampler/sampler.h"

#include <algorithm>

#include "sampler/sample-budget.h"

namespace allocscope::sampler {
std::atomic<uint64_t> g_intervalBytes{0};
std::atomic<uint32_t> g_session{0};
std::atomic<uint64_t> g_seedSequence{0};

__attribute__((noinline, cold)) uint64_t onCountdownCrossed(ThreadState& state, size_t size) {
  // While the thread does the profiler's own work, nothing is sampled, and the countdown stays
  // crossed: the application's next allocation is sampled, as it would have been.
  if (state.busy) return 0;
  uint64_t interval = g_intervalBytes.load(std::memory_order_relaxed);
  if (interval == 0) {  // not sampling: look again after a while
    state.bytesUntilSample = kLongestCountdown;
    state.bytesBeyondCountdown = 0;
    return 0;
  }
  // What is left of the current gap after this allocation. A thread new to this session starts
  // a gap right before it (gaps are memoryless: that is as good as one drawn at start()).
  uint32_t session = g_session.load(std::memory_order_relaxed);
  int64_t remaining;
  if (state.session != session) {
    state.session = session;
    state.intervalBytes = interval;
    remaining = drawGap(state, interval) - static_cast<int64_t>(size);
  } else {
    remaining = state.bytesUntilSample + state.bytesBeyondCountdown;
  }
  // This allocation is decided by the gap it began in, whatever the interval is now; a new
  // interval (the sample budget moved it) starts with the next gap, drawn right after it. Cutting
  // the current gap short there biases nothing: gaps are memoryless, and which gap decides an
  // allocation depends only on what came before it.
  uint64_t decidedBy = state.intervalBytes;
  bool sampled = remaining <= 0;
  if (sampled || state.intervalBytes != interval) {
    state.intervalBytes = interval;
    remaining = drawGap(state, interval);
  }
  state.bytesUntilSample = remaining < kLongestCountdown ? remaining : kLongestCountdown;
  state.bytesBeyondCountdown = remaining - state.bytesUntilSample;
  return sampled ? decidedBy : 0;
}

bool widenForBacklog(uint64_t sampledAt) {
  constexpr uint64_t kWidest = SampleBudget::kWidestIntervalBytes;
  if (sampledAt == 0 || sampledAt >= kWidest) return false;
  uint64_t expected = sampledAt;
  return g_intervalBytes.compare_exchange_strong(expected, std::min(sampledAt * 2, kWidest),
                                                 std::memory_order_relaxed);
}
}  // namespace allocscope::sampler
