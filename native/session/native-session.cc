// NativeSession: installs and removes the hooks, and drains samples in the background.
#include "session/native-session.h"

#include <pthread.h>

#include <chrono>

#include "aggregate/sample-recorder.h"
#include "hooks/intercept.h"
#include "hooks/originals.h"
#include "sampler/sampler.h"
#include "unwind/rule-cache.h"
#include "unwind/stack-capture.h"
#include "v8/js-code-map.h"

namespace allocscope::session {

namespace {

// A forked child has no drain thread: it keeps the hooks (they pass through) but samples nothing.
void stopSamplingInChild() { sampler::g_intervalBytes.store(0, std::memory_order_relaxed); }

}  // namespace

NativeSession& NativeSession::instance() {
  static NativeSession* session = new NativeSession();  // never destroyed: hooks may outlive exit handlers
  return *session;
}

std::string NativeSession::start(const NativeSettings& settings) {
  std::lock_guard<std::mutex> lock(d_mutex);
  if (d_running) return "already running";
  const char* whyNot = "";
  if (!hooks::resolveOriginals(&whyNot)) return whyNot;
  if (!aggregate::SampleRecorder::create()) return "could not map memory for the sample buffers";
  static bool canCaptureStacks = [] {
    pthread_atfork(nullptr, nullptr, &stopSamplingInChild);
    return unwind::initStackCapture();
  }();
  if (!canCaptureStacks) return "native stacks need glibc 2.35 or later (for _dl_find_object)";
  auto* recorder = aggregate::SampleRecorder::get();
  recorder->clear();
  recorder->setStackDepth(settings.stackDepth);
  d_aggregator.reset();
  d_aggregator.setBudget(kAggregateBudgetBytes);
  // JS frames are named from V8's code events as their stacks are first drained.
  d_aggregator.setFrameTranslator([](uintptr_t pc) { return v8frames::JsCodeMap::instance().translate(pc); });
  d_settings = settings;
  sampler::g_session.fetch_add(1, std::memory_order_relaxed);
  sampler::g_intervalBytes.store(settings.intervalBytes, std::memory_order_release);
  // One patcher for the process's lifetime: the dlopen hook may use it at any moment.
  if (!d_patcher) d_patcher = std::make_unique<hooks::GotPatcher>(hooks::interpositions());
  hooks::setDlopenListener(&NativeSession::onDlopen);
  d_patcher->activate();
  d_drainStop = false;
  d_drainThread = std::thread([this] { drainLoop(); });
  d_running = true;
  return "";
}

void NativeSession::stop() {
  std::lock_guard<std::mutex> lock(d_mutex);
  if (!d_running) return;
  d_patcher->deactivate();
  sampler::g_intervalBytes.store(0, std::memory_order_release);
  {
    std::lock_guard<std::mutex> drainLock(d_drainMutex);
    d_drainStop = true;
  }
  d_drainWake.notify_all();
  d_drainThread.join();
  d_aggregator.reset();
  d_running = false;
}

bool NativeSession::running() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_running;
}

void NativeSession::drainNow() {
  sampler::ScopedBusy busy;
  std::lock_guard<std::mutex> lock(d_mutex);
  auto* recorder = aggregate::SampleRecorder::get();
  if (!d_running || recorder == nullptr) return;
  d_aggregator.drain(recorder->ring(), recorder->table(), d_settings.intervalBytes, false);
}

void NativeSession::onDlopen() {
  // Not under the session's mutex: a profile() in progress must not make a dlopen skip its
  // patching. The patcher serializes itself and does nothing while inactive.
  sampler::ScopedBusy busy;
  unwind::RuleCache::clear();  // the new object may sit where an unloaded one was
  instance().d_patcher->patch();
}

void NativeSession::drainLoop() {
  sampler::t_state.busy = true;  // the drain's own allocations are not sampled
  auto* recorder = aggregate::SampleRecorder::get();
  int rounds = 0;
  std::unique_lock<std::mutex> lock(d_drainMutex);
  while (!d_drainStop) {
    d_drainWake.wait_for(lock, std::chrono::milliseconds(20));
    if (d_drainStop) break;
    // Prune freed samples about once a second: it scans the whole address table.
    bool prune = ++rounds % 50 == 0;
    d_aggregator.drain(recorder->ring(), recorder->table(), d_settings.intervalBytes, prune);
  }
}

aggregate::AggregateSnapshot NativeSession::snapshot() {
  sampler::ScopedBusy busy;
  std::lock_guard<std::mutex> lock(d_mutex);
  auto* recorder = aggregate::SampleRecorder::get();
  if (!d_running || recorder == nullptr) return {};
  return d_aggregator.snapshot(recorder->ring(), recorder->table(), d_settings.intervalBytes);
}

NativeStats NativeSession::stats() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  NativeStats result{};
  result.running = d_running;
  auto* recorder = aggregate::SampleRecorder::get();
  if (recorder != nullptr) {
    auto& counters = recorder->counters();
    result.samples = counters.samples.load();
    result.droppedRingFull = counters.droppedRingFull.load();
    result.droppedTableFull = counters.droppedTableFull.load();
    result.profilerBytes = recorder->storageBytes();
  }
  result.droppedStackTableFull = d_aggregator.droppedStackTableFull();
  result.liveSamples = d_aggregator.liveSamples();
  result.profilerBytes += d_aggregator.bytesUsed();
  if (d_patcher) {
    result.hookedObjects = d_patcher->patchedObjects();
    result.hookedSlots = d_patcher->patchedSlots();
  }
  return result;
}

}  // namespace allocscope::session
