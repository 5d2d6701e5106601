// HeapLimitWatch: raise V8's heap limit once it is near, then run the JS callback at the next safe point.
#include "v8/heap-limit-watch.h"

#include <v8.h>

namespace allocscope::v8heap {

namespace {
// Raises granted before the watch gives up and lets V8 end the process: the callback's own
// allocations may need a second raise, an application allocating all the while a third.
constexpr int kMaxRaises = 3;
}  // namespace

struct HeapLimitWatch::State {
  v8::Isolate* isolate;
  Napi::Env env;
  Napi::FunctionReference callback;
  size_t headroomBytes;
  size_t reportedLimit = 0;
  int raises = 0;
  bool registered = false;
  bool interruptPending = false;
  bool called = false;
  // Set when the owner goes away while an interrupt is pending: the interrupt frees the state.
  bool orphaned = false;
};

HeapLimitWatch::~HeapLimitWatch() { unwatch(); }

void HeapLimitWatch::watch(Napi::Env env, Napi::Function callback, size_t headroomBytes) {
  unwatch();
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  d_state = new State{isolate, env, Napi::Persistent(callback), headroomBytes};
  isolate->AddNearHeapLimitCallback(&HeapLimitWatch::onNearLimit, d_state);
  d_state->registered = true;
}

void HeapLimitWatch::unwatch() {
  State* state = d_state;
  if (state == nullptr) return;
  d_state = nullptr;
  // V8 aborts when asked to remove a callback it does not have: remove only what is there.
  if (state->registered) state->isolate->RemoveNearHeapLimitCallback(&HeapLimitWatch::onNearLimit, 0);
  state->registered = false;
  state->callback.Reset();
  if (state->interruptPending) {
    state->orphaned = true;
  } else {
    delete state;
  }
}

// Runs inside V8's allocation path: no JS, no V8 heap allocation, only arithmetic and a request.
size_t HeapLimitWatch::onNearLimit(void* data, size_t currentLimit, size_t initialLimit) {
  auto* state = static_cast<State*>(data);
  if (state->raises >= kMaxRaises) return currentLimit;
  state->raises += 1;
  if (!state->called && !state->interruptPending) {
    state->interruptPending = true;
    state->reportedLimit = currentLimit;
    state->isolate->RequestInterrupt(&HeapLimitWatch::onInterrupt, state);
  }
  return currentLimit + state->headroomBytes;
}

// Runs on the isolate's thread between two JS operations, where JS may be called: V8 asks that
// interrupts not re-enter the isolate, but Node's inspector evaluates JS from the same spot.
void HeapLimitWatch::onInterrupt(v8::Isolate* isolate, void* data) {
  auto* state = static_cast<State*>(data);
  state->interruptPending = false;
  if (state->orphaned) {
    delete state;
    return;
  }
  state->called = true;
  if (!isolate->IsExecutionTerminating()) {
    Napi::HandleScope scope(state->env);
    try {
      state->callback.Call({Napi::Number::New(state->env, static_cast<double>(state->reportedLimit))});
    } catch (const Napi::Error&) {
      // The callback reports its own failures; an exception must not reach the interrupted code.
    }
  }
  // Later approaches go to whoever watched before (Node's --heapsnapshot-near-heap-limit), or
  // end the process at the raised limit.
  if (state->registered) isolate->RemoveNearHeapLimitCallback(&HeapLimitWatch::onNearLimit, 0);
  state->registered = false;
}

}  // namespace allocscope::v8heap
