// Starts, stops and snapshots V8's sampling heap profiler for the calling thread's isolate.
#include "v8/heap-sampler.h"

#include <v8-profiler.h>
#include <v8.h>

#include <memory>
#include <string>

#include "v8/translate-heap-profile.h"

namespace allocscope::v8heap {

namespace {

v8::HeapProfiler* currentHeapProfiler() {
  return v8::Isolate::GetCurrent()->GetHeapProfiler();
}

}  // namespace

bool HeapSampler::start(Napi::Env env, const HeapSamplerSettings& settings) {
  if (d_running) {
    throw Napi::Error::New(
        env, "allocscope heap profiler is already running on this thread (intervalBytes=" +
                 std::to_string(d_settings.intervalBytes) +
                 ", stackDepth=" + std::to_string(d_settings.stackDepth) + "); call stop() first");
  }
  // StartSamplingHeapProfiler returns false when someone else already runs V8's one sampler on
  // this isolate; sharing it would mix settings, and either side's stop would end both.
  if (!currentHeapProfiler()->StartSamplingHeapProfiler(settings.intervalBytes,
                                                        settings.stackDepth)) {
    return false;
  }
  d_settings = settings;
  d_running = true;
  return true;
}

void HeapSampler::stop() {
  if (!d_running) return;
  currentHeapProfiler()->StopSamplingHeapProfiler();
  d_running = false;
}

Napi::Value HeapSampler::snapshot(Napi::Env env, bool collectGarbage) {
  if (!d_running) {
    throw Napi::Error::New(env, "allocscope heap profiler is not running; call start() first");
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  // LowMemoryNotification runs full mark-compact collections until nothing more is
  // freed; the sampler drops samples of collected objects from its weak callbacks.
  if (collectGarbage) isolate->LowMemoryNotification();
  std::unique_ptr<v8::AllocationProfile> profile(
      isolate->GetHeapProfiler()->GetAllocationProfile());
  if (!profile) {
    d_running = false;  // V8 has no sampler running: another tool stopped it.
    return env.Undefined();
  }
  return translateHeapProfile(env, isolate, *profile);
}

}  // namespace allocscope::v8heap
