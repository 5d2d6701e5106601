// The sampler's process-wide state, and the rare path of its per-allocation countdown.
#include "sampler/sampler.h"

namespace allocscope::sampler {
std::atomic<uint64_t> g_intervalBytes{0};
std::atomic<uint32_t> g_session{0};
std::atomic<uint64_t> g_seedSequence{0};

__attribute__((noinline, cold)) bool onCountdownCrossed(ThreadState& state) {
  // While the thread does the profiler's own work, nothing is sampled, and the countdown stays
  // crossed: the application's next allocation is sampled, as it would have been.
  if (state.busy) return false;
  uint64_t interval = g_intervalBytes.load(std::memory_order_relaxed);
  if (interval == 0) {
    state.bytesUntilSample = 1 << 20;  // not sampling: look again after another MiB
    return false;
  }
  uint32_t session = g_session.load(std::memory_order_relaxed);
  bool fresh = state.session != session;
  state.session = session;
  state.bytesUntilSample = drawGap(state, interval);
  // A thread's first countdown in a session was not drawn yet: start it now, sample nothing.
  return !fresh;
}
}  // namespace allocscope::sampler
