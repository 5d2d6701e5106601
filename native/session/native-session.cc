// NativeSession: installs and removes the hooks, and drains samples in the background.
#include "session/native-session.h"

#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "aggregate/sample-recorder.h"
#include "hooks/intercept.h"
#include "hooks/originals.h"
#include "sampler/sample-budget.h"
#include "sampler/sampler.h"
#include "session/translate-native-profile.h"
#include "symbolize/symbolizer.h"
#include "unwind/rule-cache.h"
#include "unwind/stack-capture.h"
#include "v8/js-code-map.h"

namespace allocscope::session {

namespace {

// The drain's longest sleep. Bursts wake it sooner (SampleRecorder::kSamplesPerWake), and a
// sample never waits through a change of the JS code its stack names (drainPendingSamples).
// Each wake-up costs this machine's kernel ~25-50 us: at 100 ms they were ~60% of the thread's
// CPU on a 300 req/s service (1.8 us a request); waking every 20 ms cost 1-1.5% of its CPU.
constexpr std::chrono::milliseconds kDrainWait{1000};
// Freed samples pile up in the live table until pruned; this many more since the last pruning
// (a few hundred KiB) start the next.
constexpr uint64_t kPruneAfterSamples = 4096;

// Samples still in the ring hold return addresses into JS code as it is now: V8 is about to move
// or replace code (JsCodeMap::setBeforeChange), so they are named first. Most code events find
// the ring empty and cost one load.
void drainPendingSamples() {
  auto* recorder = aggregate::SampleRecorder::get();
  if (recorder != nullptr && recorder->ring().hasPending()) NativeSession::instance().drainNow();
}

// A forked child has no drain thread: it keeps the hooks (they pass through) but samples nothing.
void stopSamplingInChild() { sampler::g_intervalBytes.store(0, std::memory_order_relaxed); }

// GOT slots everywhere point into this addon from now on: it must never be unloaded, even when
// the worker that loaded it ends (Node then dlcloses the worker's addons).
bool pinThisAddon() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&stopSamplingInChild), &info) == 0 || info.dli_fname == nullptr) return false;
  return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

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
  static const char* cannotStart = []() -> const char* {
    if (!unwind::initStackCapture()) return "native stacks need glibc 2.35 or later (for _dl_find_object)";
    if (!pinThisAddon()) return "could not keep the addon loaded for good (dlopen RTLD_NODELETE failed)";
    pthread_atfork(nullptr, nullptr, &stopSamplingInChild);
    return nullptr;
  }();
  if (cannotStart != nullptr) return cannotStart;
  auto* recorder = aggregate::SampleRecorder::get();
  recorder->clear();
  recorder->setStackDepth(settings.stackDepth);
  d_aggregator.reset();
  d_unloadedFrameNames.clear();
  d_aggregator.setBudget(kAggregateBudgetBytes);
  // JS frames are named from V8's code events as their stacks are first drained.
  d_aggregator.setStackTranslator([](uintptr_t* frames, size_t count) {
    v8frames::JsCodeMap::instance().translateStack(frames, count);
  });
  v8frames::JsCodeMap::instance().setBeforeChange(&drainPendingSamples);
  d_settings = settings;
  sampler::g_session.fetch_add(1, std::memory_order_relaxed);
  sampler::g_intervalBytes.store(settings.intervalBytes, std::memory_order_release);
  // One patcher for the process's lifetime: the dlopen hook may use it at any moment.
  if (!d_patcher) d_patcher = std::make_unique<hooks::GotPatcher>(hooks::interpositions());
  hooks::setDlopenListener(&NativeSession::onDlopen);
  hooks::setDlcloseListener(&NativeSession::onDlclose);
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
  d_drainStop.store(true, std::memory_order_release);
  aggregate::SampleRecorder::get()->drainSignal().post();
  d_drainThread.join();
  d_aggregator.reset();
  d_running = false;
}

bool NativeSession::running() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_running;
}

int NativeSession::onDlclose(void* handle) {
  sampler::ScopedBusy busy;
  std::vector<symbolize::LoadedObject> before = symbolize::loadedObjects();
  int result = hooks::g_originals.dlclose(handle);
  int savedErrno = errno;
  std::vector<symbolize::LoadedObject> after = symbolize::loadedObjects();
  std::vector<symbolize::LoadedObject> unloaded;
  for (auto& object : before) {
    bool stayed = std::any_of(after.begin(), after.end(), [&](const symbolize::LoadedObject& other) {
      return other.loadBias == object.loadBias && other.path == object.path;
    });
    if (!stayed) unloaded.push_back(std::move(object));
  }
  if (!unloaded.empty()) instance().nameUnloadedFrames(std::move(unloaded));
  errno = savedErrno;
  return result;
}

void NativeSession::nameUnloadedFrames(std::vector<symbolize::LoadedObject> unloaded) {
  std::lock_guard<std::mutex> lock(d_mutex);
  if (!drainLocked()) return;
  symbolize::Symbolizer symbolizer(std::move(unloaded));
  for (const auto& object : symbolizer.objects()) {
    for (uintptr_t pc : d_aggregator.framesWithin(object.start, object.limit)) {
      std::string name = symbolizer.lookup(pc - 1).function;
      if (!name.empty()) d_unloadedFrameNames[pc] = util::PrivateString(name);
    }
  }
}

void NativeSession::drainNow() {
  sampler::ScopedBusy busy;
  std::lock_guard<std::mutex> lock(d_mutex);
  drainLocked();
}

bool NativeSession::drainLocked() {
  auto* recorder = aggregate::SampleRecorder::get();
  if (!d_running || recorder == nullptr) return false;
  d_aggregator.drain(recorder->ring(), recorder->table(), false);
  return true;
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
  // Named so that `top -H` and perf show what this thread costs the host.
  pthread_setname_np(pthread_self(), "allocscope");
  warmSymbolizer();
  auto* recorder = aggregate::SampleRecorder::get();
  uint64_t liveAfterPrune = 0;
  sampler::SampleBudget budget(d_settings.intervalBytes, d_settings.maxSamplesPerSecond);
  auto windowStart = std::chrono::steady_clock::now();
  uint64_t sampledAtWindowStart = recorder->sampledAllocations();
  uint64_t intervalAtWindowStart = d_settings.intervalBytes;
  while (!d_drainStop.load(std::memory_order_acquire)) {
    recorder->drainSignal().wait(kDrainWait);
    if (d_drainStop.load(std::memory_order_acquire)) break;
    auto now = std::chrono::steady_clock::now();
    uint64_t sampled = recorder->sampledAllocations();
    uint64_t taken = sampled - sampledAtWindowStart;
    double seconds = std::chrono::duration<double>(now - windowStart).count();
    if (budget.windowOver(taken, seconds)) {
      uint64_t current = sampler::g_intervalBytes.load(std::memory_order_relaxed);
      // When a backlog widened the interval during the window (SampleRecorder::shedLoad), its
      // samples were taken at several intervals and do not tell the rate at this one: the next
      // window, all at the wider interval, does.
      if (current == intervalAtWindowStart) {
        // A swap, not a store: stop() may have set 0 meanwhile, and sampling must stay off.
        sampler::g_intervalBytes.compare_exchange_strong(current, budget.next(taken, seconds, current),
                                                         std::memory_order_relaxed);
      }
      windowStart = now;
      sampledAtWindowStart = sampled;
      intervalAtWindowStart = sampler::g_intervalBytes.load(std::memory_order_relaxed);
    }
    // Pruning freed samples scans the whole address table (4 MiB): only once enough samples
    // came to matter (snapshots prune anyway).
    bool prune = d_aggregator.liveSamples() >= liveAfterPrune + kPruneAfterSamples;
    d_aggregator.drain(recorder->ring(), recorder->table(), prune);
    if (prune) liveAfterPrune = d_aggregator.liveSamples();
  }
}

aggregate::AggregateSnapshot NativeSession::snapshot(bool perPeriod) {
  sampler::ScopedBusy busy;
  std::lock_guard<std::mutex> lock(d_mutex);
  auto* recorder = aggregate::SampleRecorder::get();
  if (!d_running || recorder == nullptr) return {};
  aggregate::AggregateSnapshot snapshot =
      d_aggregator.snapshot(recorder->ring(), recorder->table(), perPeriod);
  snapshot.unloadedFrameNames = d_unloadedFrameNames;
  return snapshot;
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
    result.backlogWidenings = counters.backlogWidenings.load();
    result.profilerBytes = recorder->storageBytes();
  }
  result.droppedStackTableFull = d_aggregator.droppedStackTableFull();
  result.liveSamples = d_aggregator.liveSamples();
  result.intervalBytes = d_running ? sampler::g_intervalBytes.load(std::memory_order_relaxed) : 0;
  result.profilerBytes += d_aggregator.bytesUsed() + v8frames::JsCodeMap::instance().bytesUsed();
  if (d_patcher) {
    result.hookedObjects = d_patcher->patchedObjects();
    result.hookedSlots = d_patcher->patchedSlots();
  }
  return result;
}

}  // namespace allocscope::session
