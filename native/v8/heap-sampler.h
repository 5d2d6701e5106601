// Per-isolate control of V8's sampling heap profiler: start, stop, and snapshot as flat arrays.
#pragma once

#include <napi.h>
#include <cstdint>

namespace allocscope::v8heap {

struct HeapSamplerSettings {
  uint64_t intervalBytes;
  int stackDepth;
};

// One HeapSampler exists per Node environment (main thread or worker), because V8's
// sampler belongs to an isolate. It is only ever touched from that isolate's thread.
class HeapSampler {
 public:
  // Starts V8's sampler. Returns false, changing nothing, when another tool (the inspector,
  // another profiler) already runs V8's one sampler on this isolate. Throws if this one runs.
  bool start(Napi::Env env, const HeapSamplerSettings& settings);
  // Stops V8's sampler and discards its samples; does nothing when idle.
  void stop();
  // Returns the live samples as flat arrays (see translate-heap-profile.h). With
  // collectGarbage, a full collection runs first so that dead objects are not reported.
  // Returns undefined, and counts as stopped, when another tool stopped V8's sampler.
  Napi::Value snapshot(Napi::Env env, bool collectGarbage);

 private:
  bool d_running = false;
  HeapSamplerSettings d_settings{};
};

}  // namespace allocscope::v8heap
