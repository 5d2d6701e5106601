// The sample budget: widens the native sampling interval for heavy allocators, so that the
// cost of sampling (a stack walk each) stays bounded per second, not per allocated byte.
#pragma once

#include <algorithm>
#include <cstdint>

namespace allocscope::sampler {

// SampleBudget picks the interval for the next window from the samples of the last one. The
// interval never goes below the configured one (a light allocator keeps its full detail) and
// rises with the allocation rate past maxPerSecond. Each sample keeps the interval that took it
// (sampler.h), so estimates stay unbiased while the interval moves.
class SampleBudget {
 public:
  // 1 TiB: far beyond any allocation rate, and exact in a double. Also the widest a backlog
  // makes the interval (sampler.h, widenForBacklog).
  static constexpr uint64_t kWidestIntervalBytes = uint64_t{1} << 40;

  // maxPerSecond 0 turns the budget off: the interval stays the configured one.
  SampleBudget(uint64_t configuredIntervalBytes, double maxPerSecond)
      : d_configured(configuredIntervalBytes), d_maxPerSecond(maxPerSecond) {}

  // The budget is looked at once a window: a second, or sooner once the window's samples
  // exceed a second's budget (looked at when the drain wakes: within a second, or after 1,024
  // samples, so a sudden heavy allocator takes at most that many at the old interval).
  static constexpr double kWindowSeconds = 1.0;
  bool windowOver(uint64_t samples, double seconds) const {
    return seconds >= kWindowSeconds || (d_maxPerSecond > 0 && static_cast<double>(samples) > d_maxPerSecond * kWindowSeconds);
  }

  // next: `samples` were taken in the last `seconds` under `currentIntervalBytes`.
  uint64_t next(uint64_t samples, double seconds, uint64_t currentIntervalBytes) const {
    if (d_maxPerSecond <= 0) return d_configured;
    if (seconds <= 0) return currentIntervalBytes;
    // Samples are a Poisson count of the bytes allocated: samples x interval estimates them.
    double bytesPerSecond = static_cast<double>(samples) * static_cast<double>(currentIntervalBytes) / seconds;
    double wanted = std::max(static_cast<double>(d_configured), bytesPerSecond / d_maxPerSecond);
    wanted = std::min(wanted, static_cast<double>(kWidestIntervalBytes));
    // Small moves are noise in the count (about 10% at 100 samples): keep the interval, so that
    // a steady service samples at one interval. Back to the configured one exactly, though.
    double current = static_cast<double>(currentIntervalBytes);
    if (wanted > current * kHysteresis || wanted < current / kHysteresis ||
        (wanted == static_cast<double>(d_configured) && currentIntervalBytes != d_configured)) {
      return static_cast<uint64_t>(wanted);
    }
    return currentIntervalBytes;
  }

 private:
  static constexpr double kHysteresis = 1.25;
  uint64_t d_configured;
  double d_maxPerSecond;
};

}  // namespace allocscope::sampler
