// The little per-thread state of the hooks: a byte countdown, a random generator and a guard.
#pragma once

#include <cstdint>

namespace allocscope::sampler {

// Initial-exec TLS costs ~0.5 ns per access in a dlopen'd addon (general-dynamic 1.5-2 ns), but
// the static TLS space left for dlopen'd objects is only ~1.5 KiB: keep this struct tiny.
struct ThreadState {
  // Bytes left until the countdown is crossed (see sampler.h): then the sampler decides.
  int64_t bytesUntilSample;
  // The part of the current gap beyond this countdown (gaps run in pieces of at most 1 MiB).
  int64_t bytesBeyondCountdown;
  uint64_t random;
  // The mean of the current gap: samples it decides weigh by it, even after the sample budget
  // (sampler/sample-budget.h) moved the interval.
  uint64_t intervalBytes;
  // Set while the hook does its own work (and for good in the drain thread): allocations made
  // meanwhile are passed through unsampled, so the hooks never recurse.
  bool busy;
  // The session the countdown was drawn for; a new session draws a fresh gap.
  uint32_t session;
};

// __thread (a plain, statically initialized TLS variable) rather than thread_local: accesses
// from other files then need no call to C++'s thread-local wrapper on the hook's common path.
extern __thread ThreadState t_state __attribute__((tls_model("initial-exec")));

// ScopedBusy marks the calling thread busy for its lifetime (nesting is allowed).
class ScopedBusy {
 public:
  ScopedBusy() : d_previous(t_state.busy) { t_state.busy = true; }
  ~ScopedBusy() { t_state.busy = d_previous; }
  ScopedBusy(const ScopedBusy&) = delete;
  ScopedBusy& operator=(const ScopedBusy&) = delete;

 private:
  bool d_previous;
};

}  // namespace allocscope::sampler
