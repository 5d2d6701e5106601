// A wakeup a hook may post without locking or blocking, for the thread that drains the ring.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace allocscope::ring {

// DrainSignal lets the drain thread sleep long while samples are rare (each wakeup costs the
// host CPU time, and most find an empty ring) and still wake at once when a burst of samples
// fills the ring. A condition variable would need its mutex in the hook; a futex word needs
// none: post() is one atomic exchange, plus a FUTEX_WAKE system call (which never blocks) only
// when the drain has not been woken since it last looked.
class DrainSignal {
 public:
  // post wakes the waiting drain, or makes its next wait return at once. Safe in an allocator
  // hook: no lock, no allocation, errno preserved.
  void post() {
    if (d_posted.exchange(1, std::memory_order_release) != 0) return;
    int savedErrno = errno;
    syscall(SYS_futex, &d_posted, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    errno = savedErrno;
  }

  // wait returns after a post (made before or during the wait) or after the timeout, whichever
  // comes first, and consumes the post.
  void wait(std::chrono::milliseconds timeout) {
    if (d_posted.exchange(0, std::memory_order_acquire) != 0) return;
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec relative{static_cast<time_t>(seconds.count()),
                      static_cast<long>((timeout - seconds).count() * 1'000'000)};
    // Sleeps only while the word is still 0: a post that came after the exchange above returns
    // at once (EAGAIN). Spurious returns (EINTR) are harmless: the drain just looks early.
    syscall(SYS_futex, &d_posted, FUTEX_WAIT_PRIVATE, 0, &relative, nullptr, 0);
    // Consumes a post made during the wait. One made between the return and this store is lost,
    // which costs nothing: the caller drains right after returning.
    d_posted.store(0, std::memory_order_relaxed);
  }

 private:
  // The futex word: 1 once posted and not yet consumed. A lock-free 32-bit atomic has the
  // layout of a plain uint32_t, which is what the kernel reads.
  std::atomic<uint32_t> d_posted{0};
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
};

}  // namespace allocscope::ring
