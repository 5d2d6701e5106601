// Calls a JS function once when this isolate's JS heap nears V8's limit, so the last profiles get written before an OOM crash.
#pragma once

#include <napi.h>
#include <cstddef>

namespace v8 {
class Isolate;
}

namespace allocscope::v8heap {

// V8 reports the approaching limit from inside an allocation, where no JS may run. The watch
// answers by raising the limit by `headroomBytes` (room for writing the profiles) and asks V8 to
// interrupt the running code at its next safe point; there the JS callback runs, receiving the
// heap limit V8 reported, and the watch removes itself, so the process then dies at the raised
// limit as it would have at the old one. One watch per Node environment, used on its thread.
class HeapLimitWatch {
 public:
  HeapLimitWatch() = default;
  HeapLimitWatch(const HeapLimitWatch&) = delete;
  HeapLimitWatch& operator=(const HeapLimitWatch&) = delete;
  ~HeapLimitWatch();

  // Replaces any earlier watch of this environment.
  void watch(Napi::Env env, Napi::Function callback, size_t headroomBytes);
  // Removes the watch; the heap limit stays as it is.
  void unwatch();

 private:
  struct State;
  static size_t onNearLimit(void* data, size_t currentLimit, size_t initialLimit);
  static void onInterrupt(v8::Isolate* isolate, void* data);

  // Heap-allocated because an interrupt V8 has been asked for may outlive this object.
  State* d_state = nullptr;
};

}  // namespace allocscope::v8heap
