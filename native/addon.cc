// Module init: one Addon instance per Node environment (main thread or worker), so the addon is context-aware.
#include <napi.h>

#include "format/gzip-worker.h"
#include "session/native-session.h"
#include "session/translate-native-profile.h"
#include "v8/code-event-listener.h"
#include "v8/heap-limit-watch.h"
#include "v8/heap-sampler.h"

#include <memory>

#include <v8.h>

namespace allocscope {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("heapStart", &Addon::JsHeapStart),
                             InstanceMethod("heapStop", &Addon::JsHeapStop),
                             InstanceMethod("heapSnapshot", &Addon::JsHeapSnapshot),
                             InstanceMethod("nativeStart", &Addon::JsNativeStart),
                             InstanceMethod("nativeStop", &Addon::JsNativeStop),
                             InstanceMethod("nativeSnapshot", &Addon::JsNativeSnapshot),
                             InstanceMethod("nativeStats", &Addon::JsNativeStats),
                             InstanceMethod("nativeNameJsFrames", &Addon::JsNativeNameJsFrames),
                             InstanceMethod("collectGarbage", &Addon::JsCollectGarbage),
                             InstanceMethod("watchHeapLimit", &Addon::JsWatchHeapLimit),
                             InstanceMethod("unwatchHeapLimit", &Addon::JsUnwatchHeapLimit),
                             InstanceMethod("gzip", &Addon::JsGzip),
                         });
  }

  ~Addon() {
    // This environment's JS code is about to be forgotten: name the stacks sampled so far first.
    if (d_codeEvents) session::NativeSession::instance().drainNow();
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

  // nativeStart(intervalBytes, stackDepth, maxSamplesPerSecond) -> "" when started, else why
  // not. The native session is process-wide: hooks see every thread, whichever thread started them.
  Napi::Value JsNativeStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
      throw Napi::TypeError::New(env, "nativeStart(intervalBytes, stackDepth, maxSamplesPerSecond) expects three numbers");
    }
    double intervalBytes = info[0].As<Napi::Number>().DoubleValue();
    int32_t stackDepth = info[1].As<Napi::Number>().Int32Value();
    double maxSamplesPerSecond = info[2].As<Napi::Number>().DoubleValue();
    if (!(intervalBytes >= 1) || stackDepth < 1 || stackDepth > ring::kMaxFrames || !(maxSamplesPerSecond >= 0)) {
      throw Napi::RangeError::New(
          env, "nativeStart: intervalBytes must be positive, stackDepth 1 to 128, maxSamplesPerSecond 0 or more");
    }
    std::string whyNot = session::NativeSession::instance().start(
        {static_cast<uint64_t>(intervalBytes), stackDepth, maxSamplesPerSecond});
    if (whyNot.empty()) nameJsFrames();
    return Napi::String::New(env, whyNot);
  }

  // nativeNameJsFrames(): from now on, native stacks name this thread's JS frames (the thread
  // that starts the native profiler gets this by itself; workers ask for it).
  Napi::Value JsNativeNameJsFrames(const Napi::CallbackInfo& info) {
    nameJsFrames();
    return info.Env().Undefined();
  }

  void nameJsFrames() {
    if (d_codeEvents) return;
    d_codeEvents = std::make_unique<v8frames::CodeEventListener>(v8::Isolate::GetCurrent());
    d_codeEvents->enable();
    if (!d_codeEvents->namesInterpretedFrames()) v8frames::nameInterpretedFrames();
  }

  Napi::Value JsNativeStop(const Napi::CallbackInfo& info) {
    session::NativeSession::instance().stop();
    return info.Env().Undefined();
  }

  // nativeSnapshot(perPeriod = false) -> flat arrays (see translate-native-profile.h),
  // undefined when idle. perPeriod: see NativeSession::snapshot.
  Napi::Value JsNativeSnapshot(const Napi::CallbackInfo& info) {
    auto& native = session::NativeSession::instance();
    if (!native.running()) return info.Env().Undefined();
    bool perPeriod = info.Length() > 0 && info[0].ToBoolean().Value();
    return session::translateNativeProfile(info.Env(), native.snapshot(perPeriod));
  }

  Napi::Value JsNativeStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    session::NativeStats stats = session::NativeSession::instance().stats();
    Napi::Object result = Napi::Object::New(env);
    result.Set("running", stats.running);
    result.Set("samples", static_cast<double>(stats.samples));
    result.Set("droppedRingFull", static_cast<double>(stats.droppedRingFull));
    result.Set("droppedTableFull", static_cast<double>(stats.droppedTableFull));
    result.Set("droppedStackTableFull", static_cast<double>(stats.droppedStackTableFull));
    result.Set("backlogWidenings", static_cast<double>(stats.backlogWidenings));
    result.Set("liveSamples", static_cast<double>(stats.liveSamples));
    result.Set("intervalBytes", static_cast<double>(stats.intervalBytes));
    result.Set("hookedObjects", static_cast<double>(stats.hookedObjects));
    result.Set("hookedSlots", static_cast<double>(stats.hookedSlots));
    result.Set("profilerBytes", static_cast<double>(stats.profilerBytes));
    return result;
  }

  // collectGarbage(): full collections, so that JS objects already dead free their native
  // memory (ArrayBuffer backing stores) before a native profile is taken at exit.
  Napi::Value JsCollectGarbage(const Napi::CallbackInfo& info) {
    v8::Isolate::GetCurrent()->LowMemoryNotification();
    return info.Env().Undefined();
  }

  // watchHeapLimit(callback, headroomBytes): callback(heapLimitBytes) runs once when this
  // thread's JS heap nears V8's limit, with the limit raised by headroomBytes to let it work.
  Napi::Value JsWatchHeapLimit(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "watchHeapLimit(callback, headroomBytes) expects a function and a number");
    }
    double headroomBytes = info[1].As<Napi::Number>().DoubleValue();
    if (!(headroomBytes >= 1)) throw Napi::RangeError::New(env, "watchHeapLimit: headroomBytes must be positive");
    d_heapLimit.watch(env, info[0].As<Napi::Function>(), static_cast<size_t>(headroomBytes));
    return env.Undefined();
  }

  Napi::Value JsUnwatchHeapLimit(const Napi::CallbackInfo& info) {
    d_heapLimit.unwatch();
    return info.Env().Undefined();
  }

  // gzip(bytes, level) -> Promise<Buffer>, compressed on the libuv threadpool (see gzip-worker.h).
  Napi::Value JsGzip(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "gzip(bytes, level) expects a Uint8Array and a number");
    }
    auto bytes = info[0].As<Napi::Uint8Array>();
    int32_t level = info[1].As<Napi::Number>().Int32Value();
    // zlib takes one call's input length as 32 bits.
    if (level < 0 || level > 9 || bytes.ByteLength() > 0xffffffffu) {
      throw Napi::RangeError::New(env, "gzip: level must be 0 to 9 and bytes under 4 GiB");
    }
    return format::gzipAsync(env, bytes, level);
  }

  v8heap::HeapSampler d_heap;
  v8heap::HeapLimitWatch d_heapLimit;
  // Listens to this isolate's code events once native stacks should name its JS frames; ends
  // with the environment (the addon instance is destroyed at its cleanup).
  std::unique_ptr<v8frames::CodeEventListener> d_codeEvents;
};

}  // namespace allocscope

using allocscope::Addon;
NODE_API_ADDON(Addon)
