// Unit tests of native/sampler/sample-budget.h: the interval widens with the allocation rate past
// the budget, returns to the configured one, ignores noise, and does nothing when off.
#include "sampler/sample-budget.h"

#include <cstdint>

#include "tap.h"

using allocscope::sampler::SampleBudget;

namespace {
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
}  // namespace

TEST("under the budget the interval stays the configured one") {
  SampleBudget budget(512 * kKiB, 100);
  CHECK_EQ(budget.next(0, 1.0, 512 * kKiB), 512 * kKiB);
  CHECK_EQ(budget.next(100, 1.0, 512 * kKiB), 512 * kKiB);  // exactly at the budget
  CHECK_EQ(budget.next(40, 0.5, 512 * kKiB), 512 * kKiB);   // 80 a second
}

TEST("past the budget the interval widens to what keeps about maxPerSecond samples a second") {
  SampleBudget budget(512 * kKiB, 100);
  // 315 samples in a second at 512 KiB: ~165 MB/s allocated, so 1.6 MiB keeps ~100 a second.
  uint64_t wider = budget.next(315, 1.0, 512 * kKiB);
  CHECK_NEAR(double(wider), 315.0 * 512 * kKiB / 100, 1e-6);
  // The same rate measured at the wider interval keeps it (100 samples: at the budget).
  CHECK_EQ(budget.next(100, 1.0, wider), wider);
  // The rate is per second of the window, whatever its length.
  CHECK_NEAR(double(budget.next(630, 2.0, 512 * kKiB)), double(wider), 1e-6);
  // A burst 100x the budget is reined in within one window, not step by step.
  CHECK_NEAR(double(budget.next(10000, 1.0, 512 * kKiB)), 100.0 * 512 * kKiB, 1e-6);
}

TEST("when the rate falls the interval comes back, down to the configured one exactly") {
  SampleBudget budget(512 * kKiB, 100);
  CHECK_NEAR(double(budget.next(25, 1.0, 8 * kMiB)), 2.0 * kMiB, 1e-6);
  CHECK_EQ(budget.next(10, 1.0, 2 * kMiB), 512 * kKiB);
  // Even from just above it (a move within the noise band would otherwise be kept).
  CHECK_EQ(budget.next(90, 1.0, 550 * kKiB), 512 * kKiB);
}

TEST("moves within 25% are noise in the count: the interval is kept") {
  SampleBudget budget(512 * kKiB, 100);
  CHECK_EQ(budget.next(120, 1.0, 2 * kMiB), 2 * kMiB);
  CHECK_EQ(budget.next(81, 1.0, 2 * kMiB), 2 * kMiB);
  CHECK_NE(budget.next(130, 1.0, 2 * kMiB), 2 * kMiB);
  CHECK_NE(budget.next(75, 1.0, 2 * kMiB), 2 * kMiB);
}

TEST("a budget of 0 keeps the configured interval; the interval stops at 1 TiB") {
  SampleBudget off(64 * kKiB, 0);
  CHECK_EQ(off.next(1000000, 1.0, 64 * kKiB), 64 * kKiB);
  CHECK_EQ(off.next(5, 1.0, 8 * kMiB), 64 * kKiB);
  SampleBudget budget(512 * kKiB, 1);
  CHECK_EQ(budget.next(1000000000, 1.0, 1ull << 30), 1ull << 40);
  CHECK_EQ(budget.next(100, 0.0, 2 * kMiB), 2 * kMiB);  // no time measured: no change
}

TEST("a window lasts a second, or ends sooner once it holds more than a second's budget") {
  SampleBudget budget(512 * kKiB, 100);
  CHECK(!budget.windowOver(50, 0.5));
  CHECK(!budget.windowOver(100, 0.1));
  CHECK(budget.windowOver(101, 0.1));
  CHECK(budget.windowOver(0, 1.0));
  SampleBudget off(512 * kKiB, 0);
  CHECK(!off.windowOver(1000000, 0.1));
}

TAP_MAIN()
