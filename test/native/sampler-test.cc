// Unit tests of native/sampler/sampler.h: exponential gaps, the shouldSample countdown (sessions,
// long gaps across sessions, busy threads, no session), and that sampleWeight makes sampled byte
// totals unbiased, also while the interval moves.
#include "sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "sampler/thread-state.h"
#include "tap.h"

// This thread's sampler state, defined here as native/sampler/thread-state.cc does for the addon
// (defined in the test's own file: UBSan misreads an initial-exec TLS variable from another one).
namespace allocscope::sampler {
__thread ThreadState t_state __attribute__((tls_model("initial-exec"))) = {};
}  // namespace allocscope::sampler


using allocscope::sampler::drawGap;
using allocscope::sampler::g_intervalBytes;
using allocscope::sampler::g_session;
using allocscope::sampler::nextRandom;
using allocscope::sampler::sampleWeight;
using allocscope::sampler::ScopedBusy;
using allocscope::sampler::countDown;
using allocscope::sampler::onCountdownCrossed;
using allocscope::sampler::t_state;
using allocscope::sampler::ThreadState;

namespace {

// sampledBy is what a hook decides for an allocation of `size` bytes: the countdown, then, when
// it is crossed, the sampler (hooks/fast-paths.cc splits the two around libc's call). It returns
// the interval the sample weighs by, 0 when not sampled.
uint64_t sampledBy(size_t size) { return countDown(size) ? 0 : onCountdownCrossed(t_state, size); }
bool shouldSample(size_t size) { return sampledBy(size) != 0; }

// startSession mimics NativeSession::start: a new session number, then the interval; the
// thread's countdown starts as a fresh thread's would, with a fixed seed for repeatable runs.
void startSession(uint64_t intervalBytes, uint64_t seed) {
  g_session.fetch_add(1);
  g_intervalBytes.store(intervalBytes);
  t_state = {};
  t_state.random = allocscope::sampler::mixSeed(seed);  // a raw small seed would start xorshift poorly
}

void stopSession() { g_intervalBytes.store(0); }

// Samples `count` allocations of `size` bytes; returns the unbiased estimate of their bytes.
double estimateBytes(uint64_t size, uint64_t count, uint64_t intervalBytes, uint64_t* samples) {
  double estimate = 0;
  *samples = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (shouldSample(size)) {
      ++*samples;
      estimate += sampleWeight(size, intervalBytes) * static_cast<double>(size);
    }
  }
  return estimate;
}

}  // namespace

TEST("nextRandom seeds itself from 0, differently each time, and does not get stuck") {
  ThreadState state = {};
  uint64_t first = nextRandom(state);
  CHECK_NE(state.random, uint64_t{0});
  uint64_t second = nextRandom(state);
  CHECK_NE(first, second);
  // A state reset to zero at the same address (glibc reuses a dead thread's TLS) starts a new stream.
  state = {};
  uint64_t reseeded = nextRandom(state);
  CHECK_NE(reseeded, first);
  // Top bits are roughly uniform: about half of the values have bit 63 set.
  int high = 0;
  for (int i = 0; i < 100000; ++i) high += static_cast<int>(nextRandom(state) >> 63);
  CHECK_NEAR(high, 50000.0, 0.02);
}

TEST("drawGap: mean ~interval (2%), exponential tail P(gap > k*interval) ~ e^-k, sd ~ mean") {
  for (uint64_t interval : {uint64_t{512} * 1024, uint64_t{4096}, uint64_t{100}}) {
    ThreadState state = {};
    state.random = 0x12345678u + interval;
    constexpr int kDraws = 1000000;
    double sum = 0, sumSquares = 0;
    int above1 = 0, above2 = 0, aboveHalf = 0, belowOne = 0;
    for (int i = 0; i < kDraws; ++i) {
      int64_t gap = drawGap(state, interval);
      belowOne += gap < 1;
      double value = static_cast<double>(gap);
      sum += value;
      sumSquares += value * value;
      above1 += value > static_cast<double>(interval);
      above2 += value > 2.0 * static_cast<double>(interval);
      aboveHalf += value > 0.5 * static_cast<double>(interval);
    }
    double mean = sum / kDraws;
    double sd = std::sqrt(sumSquares / kDraws - mean * mean);
    tap::note("interval %llu: mean %.1f, sd %.1f, P(>i) %.4f, P(>2i) %.4f, P(>i/2) %.4f",
              static_cast<unsigned long long>(interval), mean, sd, double(above1) / kDraws, double(above2) / kDraws,
              double(aboveHalf) / kDraws);
    CHECK_EQ(belowOne, 0);  // a gap is at least one byte
    CHECK_NEAR(mean, static_cast<double>(interval), 0.02);
    CHECK_NEAR(sd, static_cast<double>(interval), 0.03);
    // Within 1% (absolute) of the exponential's tail.
    CHECK_LE(std::fabs(double(above1) / kDraws - std::exp(-1.0)), 0.01);
    CHECK_LE(std::fabs(double(above2) / kDraws - std::exp(-2.0)), 0.01);
    CHECK_LE(std::fabs(double(aboveHalf) / kDraws - std::exp(-0.5)), 0.01);
  }
}

TEST("shouldSample: a thread's first allocation in a session starts a gap right before it") {
  startSession(1024, 42);
  CHECK(!shouldSample(0));  // a gap is at least one byte: a 0-byte allocation never ends it
  CHECK_GT(t_state.bytesUntilSample, int64_t{0});
  CHECK_EQ(t_state.session, g_session.load());
  int samples = 0;
  for (int i = 0; i < 10000; ++i) samples += shouldSample(64);
  CHECK_GT(samples, 0);
  // A new session: the crossing draws the new session's gap from this allocation, so one far
  // larger than the interval is sampled whatever was left of the old countdown.
  g_session.fetch_add(1);
  t_state.bytesUntilSample = 1;
  CHECK(shouldSample(1u << 20));
  CHECK_EQ(t_state.session, g_session.load());
  stopSession();
}

TEST("shouldSample: a gap drawn for a huge interval does not silence the thread in the next session") {
  // Gaps run in pieces of at most 1 MiB, and each piece's end looks at the session: a thread
  // whose last gap was drawn at 1 GiB samples at the new interval after at most 1 MiB.
  startSession(1ull << 30, 46);
  CHECK(!shouldSample(0));
  CHECK_LE(t_state.bytesUntilSample, allocscope::sampler::kLongestCountdown);
  CHECK_GT(t_state.bytesBeyondCountdown, int64_t{0});  // ~1 GiB, almost surely
  g_session.fetch_add(1);  // a new session at 512 KiB, without touching this thread's state
  g_intervalBytes.store(512 * 1024);
  uint64_t samples = 0;
  for (int i = 0; i < 64 * 256; ++i) samples += shouldSample(4096);  // 64 MiB
  tap::note("64 MiB at 512 KiB after a 1 GiB session: %llu samples (expected ~126-128)",
            static_cast<unsigned long long>(samples));
  CHECK_GE(samples, uint64_t{96});
  CHECK_LE(samples, uint64_t{160});
  // Within one session, a long gap run in pieces samples as one gap: 1 GiB-interval sampling of
  // 64 GiB in 1 MiB allocations takes ~64 samples.
  startSession(1ull << 30, 47);
  samples = 0;
  for (int i = 0; i < 64 * 1024; ++i) samples += shouldSample(1 << 20);
  tap::note("64 GiB at 1 GiB: %llu samples", static_cast<unsigned long long>(samples));
  CHECK_GE(samples, uint64_t{40});
  CHECK_LE(samples, uint64_t{90});
  stopSession();
}

TEST("shouldSample: no session samples nothing and looks again after 1 MiB; a busy thread samples nothing") {
  startSession(1024, 43);
  stopSession();
  int samples = 0;
  for (int i = 0; i < 100000; ++i) samples += shouldSample(4096);
  CHECK_EQ(samples, 0);
  CHECK_GT(t_state.bytesUntilSample, int64_t{0});
  CHECK_LE(t_state.bytesUntilSample, int64_t{1} << 20);

  startSession(1024, 44);
  CHECK(!shouldSample(0));  // start the countdown
  {
    ScopedBusy busy;
    {
      ScopedBusy nested;
      CHECK(t_state.busy);
    }
    CHECK(t_state.busy);  // the nested guard restores "busy", not "idle"
    for (int i = 0; i < 100000; ++i) samples += shouldSample(4096);
    CHECK_EQ(samples, 0);
    CHECK_LE(t_state.bytesUntilSample, int64_t{0});  // the countdown stays crossed while busy
  }
  CHECK(!t_state.busy);
  CHECK(shouldSample(1));  // so the application's next allocation is the sample
  CHECK_GT(t_state.bytesUntilSample, int64_t{0});
  stopSession();
}

TEST("shouldSample: mixed sizes summing to N bytes sample ~N/interval times") {
  // Sizes well below the interval, where P(sampled) ~ size/interval; the mix's bias from that
  // approximation is ~0.6%. The exact expectation is the sum of 1 - exp(-size/interval).
  constexpr uint64_t kInterval = 256 * 1024;
  startSession(kInterval, 45);
  std::mt19937_64 random(45);
  uint64_t totalBytes = 0, samples = 0;
  double expected = 0;
  const uint64_t target = kInterval * 40000;
  while (totalBytes < target) {
    uint64_t pick = random() % 100;
    uint64_t size = pick < 70 ? 8 + random() % 120 : pick < 95 ? 128 + random() % 1920 : 2048 + random() % 6144;
    totalBytes += size;
    samples += shouldSample(size);
    expected += -std::expm1(-static_cast<double>(size) / kInterval);
  }
  tap::note("%llu bytes: %llu samples, N/interval %.0f, sum of P(sampled) %.0f",
            static_cast<unsigned long long>(totalBytes), static_cast<unsigned long long>(samples),
            double(totalBytes) / kInterval, expected);
  CHECK_NEAR(double(samples), double(totalBytes) / kInterval, 0.02);
  CHECK_NEAR(double(samples), expected, 0.015);
  stopSession();
}

TEST("sampleWeight: 1 / (1 - exp(-size/interval))") {
  CHECK_EQ(sampleWeight(0, 1024), 1.0);
  CHECK_NEAR(sampleWeight(1024, 1024), 1.0 / (1.0 - std::exp(-1.0)), 1e-12);
  CHECK_NEAR(sampleWeight(1, 1 << 20), double(1 << 20), 1e-6);  // ~interval/size for small sizes
  CHECK_NEAR(sampleWeight(uint64_t{1} << 40, 1024), 1.0, 1e-12);  // huge blocks are always sampled
  double previous = 1e300;
  bool decreasing = true;
  for (uint64_t size = 1; size < (uint64_t{1} << 30); size *= 3) {
    double weight = sampleWeight(size, 512 * 1024);
    decreasing = decreasing && weight <= previous && weight >= 1.0;
    previous = weight;
  }
  CHECK(decreasing);
}

TEST("sampleWeight unbiases: sum(weight * S) over sampled allocations of size S ~ total bytes (2%)") {
  struct Case {
    uint64_t size;
    uint64_t interval;
  };
  // From S << interval (rarely sampled, weight ~interval/S) to S >> interval (weight ~1).
  for (Case c : {Case{16, 4096}, Case{1000, 64 * 1024}, Case{4096, 512 * 1024}, Case{512 * 1024, 512 * 1024},
                 Case{3 * 1024 * 1024, 512 * 1024}}) {
    double probability = -std::expm1(-double(c.size) / double(c.interval));
    uint64_t count = static_cast<uint64_t>(40000 / probability) + 1;  // ~40k samples: 0.5% noise
    startSession(c.interval, c.size * 31 + c.interval);
    uint64_t samples = 0;
    double estimate = estimateBytes(c.size, count, c.interval, &samples);
    double total = double(c.size) * double(count);
    tap::note("size %llu, interval %llu: %llu allocations, %llu samples, estimate/total %.4f",
              static_cast<unsigned long long>(c.size), static_cast<unsigned long long>(c.interval),
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(samples), estimate / total);
    CHECK_NEAR(estimate, total, 0.02);
    CHECK_NEAR(double(samples), probability * double(count), 0.02);
  }
  stopSession();
}

TEST("sampleWeight unbiases a mixed stream, per size class and in total") {
  constexpr uint64_t kInterval = 32 * 1024;
  startSession(kInterval, 46);
  std::mt19937_64 random(46);
  const uint64_t sizes[] = {24, 200, 4000, 100000, 2000000};
  double total[5] = {}, estimate[5] = {};
  uint64_t samples[5] = {};
  for (int i = 0; i < 8000000; ++i) {
    // Small blocks are common, big ones rare.
    uint64_t pick = random() % 1000;
    int k = pick < 700 ? 0 : pick < 950 ? 1 : pick < 990 ? 2 : pick < 999 ? 3 : 4;
    uint64_t size = sizes[k];
    total[k] += double(size);
    if (shouldSample(size)) {
      ++samples[k];
      estimate[k] += sampleWeight(size, kInterval) * double(size);
    }
  }
  double allTotal = 0, allEstimate = 0;
  for (int k = 0; k < 5; ++k) {
    allTotal += total[k];
    allEstimate += estimate[k];
    double probability = -std::expm1(-double(sizes[k]) / kInterval);
    // Four standard deviations of the estimate, sqrt((1 - p) / samples), and at least 2%.
    double tolerance = std::max(0.02, 4 * std::sqrt((1 - probability) / std::max<double>(1, samples[k])));
    tap::note("size %llu: %llu samples, estimate/total %.4f (tolerance %.3f)",
              static_cast<unsigned long long>(sizes[k]),
              static_cast<unsigned long long>(samples[k]), estimate[k] / total[k], tolerance);
    CHECK_GT(samples[k], uint64_t{3000});
    CHECK_NEAR(estimate[k], total[k], tolerance);
  }
  CHECK_NEAR(allEstimate, allTotal, 0.02);
  stopSession();
}

TEST("a sample weighs by the interval of the gap that decided it; the next gap is drawn at the new one") {
  startSession(1024, 47);
  CHECK(!shouldSample(0));
  g_intervalBytes.store(1u << 20);  // the budget widens the interval in the middle of a gap
  // The rest of the 1 KiB gap decides the next allocations: its sample weighs by 1 KiB...
  uint64_t first = 0;
  for (int i = 0; i < 10000 && first == 0; ++i) first = sampledBy(16);
  CHECK_EQ(first, uint64_t{1024});
  CHECK_EQ(t_state.intervalBytes, uint64_t{1u << 20});
  // ...and the gaps after it are the new interval's: ~64 samples in 64 MiB, each weighing by 1 MiB.
  uint64_t samples = 0;
  bool allNew = true;
  for (int i = 0; i < 64 * 1024; ++i) {
    uint64_t by = sampledBy(1024);
    samples += by != 0;
    allNew = allNew && (by == 0 || by == (1u << 20));
  }
  CHECK(allNew);
  CHECK_GT(samples, uint64_t{30});
  CHECK_LT(samples, uint64_t{110});
  // A countdown crossed with no sample (the end of a 1 MiB piece) also takes up a new interval.
  g_intervalBytes.store(4096);
  t_state.bytesUntilSample = 1;
  t_state.bytesBeyondCountdown = 1 << 30;
  CHECK(!shouldSample(1));
  CHECK_EQ(t_state.intervalBytes, uint64_t{4096});
  CHECK_LE(t_state.bytesUntilSample + t_state.bytesBeyondCountdown, int64_t{4096 * 40});
  stopSession();
}

TEST("estimates stay unbiased while the interval narrows 256 KiB -> 64 KiB -> 16 KiB -> 4 KiB") {
  // Each round is a new session at 256 KiB, narrowed every 1 MiB. Weighing the sample right after
  // a move by the new interval instead of the one that took it would count ~252 KiB too little
  // per round (-6%); drawing the new gap before deciding the allocation that crossed would lose
  // the gap up to it, ~336 KiB per round (-8%). (Moves back and forth would hide the first: its
  // errors cancel over a cycle.) The estimate's own spread here is ~0.5%.
  std::mt19937_64 random(48);
  startSession(256 * 1024, 48);
  const uint64_t sizes[] = {64, 1000, 16384};
  double total = 0, estimate = 0;
  uint64_t samples = 0;
  for (int round = 0; round < 1000; ++round) {
    g_session.fetch_add(1);
    for (uint64_t interval : {256 * 1024, 64 * 1024, 16 * 1024, 4 * 1024}) {
      g_intervalBytes.store(interval);
      for (double phaseBytes = 0; phaseBytes < 1024 * 1024;) {
        uint64_t size = sizes[random() % 3];
        phaseBytes += double(size);
        total += double(size);
        uint64_t by = sampledBy(size);
        if (by != 0) {
          ++samples;
          estimate += sampleWeight(size, by) * double(size);
        }
      }
    }
  }
  tap::note("%llu samples, estimate/total %.4f", static_cast<unsigned long long>(samples), estimate / total);
  CHECK_GT(samples, uint64_t{50000});
  CHECK_NEAR(estimate, total, 0.025);
  stopSession();
}

TAP_MAIN()
