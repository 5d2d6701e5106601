// Module init: one Addon instance per Node environment (main thread or worker), so the addon is context-aware.
#include <napi.h>

#include "v8/heap-sampler.h"

namespace allocscope {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("heapStart", &Addon::JsHeapStart),
                             InstanceMethod("heapStop", &Addon::JsHeapStop),
                             InstanceMethod("heapSnapshot", &Addon::JsHeapSnapshot),
                         });
  }

 private:
  // heapStart(intervalBytes, stackDepth) -> false when another tool runs V8's sampler.
  // Options are validated in TypeScript; this only guards against calls that bypass it.
  Napi::Value JsHeapStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "heapStart(intervalBytes, stackDepth) expects two numbers");
    }
    double intervalBytes = info[0].As<Napi::Number>().DoubleValue();
    int32_t stackDepth = info[1].As<Napi::Number>().Int32Value();
    if (!(intervalBytes >= 1) || stackDepth < 1) {
      throw Napi::RangeError::New(env, "heapStart: intervalBytes and stackDepth must be positive");
    }
    bool started = d_heap.start(env, {static_cast<uint64_t>(intervalBytes), stackDepth});
    return Napi::Boolean::New(env, started);
  }

  Napi::Value JsHeapStop(const Napi::CallbackInfo& info) {
    d_heap.stop();
    return info.Env().Undefined();
  }

  // heapSnapshot(collectGarbage): flat node and allocation tables of the live samples, or
  // undefined when another tool stopped V8's sampler.
  Napi::Value JsHeapSnapshot(const Napi::CallbackInfo& info) {
    bool collectGarbage = info.Length() > 0 && info[0].ToBoolean().Value();
    return d_heap.snapshot(info.Env(), collectGarbage);
  }

  v8heap::HeapSampler d_heap;
};

}  // namespace allocscope

using allocscope::Addon;
NODE_API_ADDON(Addon)
