// Unit tests of native/ring/drain-signal.h: a post wakes a waiting drain, an early post is not
// lost, a wait without one ends at its timeout, and posting keeps errno.
#include "ring/drain-signal.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "tap.h"

using allocscope::ring::DrainSignal;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits far longer than any of these tests takes: a wait that returns was woken, not timed out.
constexpr milliseconds kForever{60'000};

TEST("a post before the wait makes it return at once, once") {
  DrainSignal signal;
  signal.post();
  signal.post();  // not counted twice: the wait after the next one times out
  auto start = Clock::now();
  signal.wait(kForever);
  CHECK(Clock::now() - start < kForever / 2);
  start = Clock::now();
  signal.wait(milliseconds(30));
  CHECK(Clock::now() - start >= milliseconds(30));
}

TEST("a post from another thread wakes a sleeping wait") {
  DrainSignal signal;
  auto start = Clock::now();
  std::thread drain([&] { signal.wait(kForever); });
  std::this_thread::sleep_for(milliseconds(50));  // most likely asleep in the kernel by now
  signal.post();
  drain.join();
  CHECK(Clock::now() - start < kForever / 2);
}

TEST("many producers posting while the drain waits in a loop never leave it asleep") {
  DrainSignal signal;
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  // do-while: on a slow machine the drain may first run after the producers and the stop's post;
  // it must still wait once, and that wait must return because the post was kept.
  std::thread drain([&] {
    do {
      signal.wait(kForever);
      rounds.fetch_add(1);
    } while (!stop.load());
  });
  std::thread producers[4];
  for (auto& producer : producers) {
    producer = std::thread([&] {
      for (int i = 0; i < 20'000; ++i) signal.post();
    });
  }
  for (auto& producer : producers) producer.join();
  auto start = Clock::now();
  stop = true;
  signal.post();  // as NativeSession::stop() does
  drain.join();
  CHECK(Clock::now() - start < kForever / 2);
  CHECK(rounds.load() >= 1);
}

TEST("post keeps errno") {
  DrainSignal signal;
  errno = ERANGE;
  signal.post();
  CHECK_EQ(errno, ERANGE);
  errno = ERANGE;
  signal.post();  // already posted: no system call
  CHECK_EQ(errno, ERANGE);
}

TAP_MAIN()
