// The process-wide native profiling session: hooks installed, sampling on, a drain thread running.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/aggregator.h"
#include "hooks/got-patcher.h"
#include "symbolize/symbolizer.h"

namespace allocscope::session {

struct NativeSettings {
  uint64_t intervalBytes;
  int stackDepth;
  // The sample budget (sampler/sample-budget.h): past this many samples a second the interval
  // widens; 0 keeps it fixed.
  double maxSamplesPerSecond;
};

struct NativeStats {
  bool running;
  uint64_t samples;
  uint64_t droppedRingFull;
  uint64_t droppedTableFull;
  uint64_t droppedStackTableFull;
  uint64_t backlogWidenings;  // times a nearly full ring doubled the interval
  uint64_t liveSamples;
  uint64_t intervalBytes;  // the interval in force now: the configured one, or wider under the sample budget
  size_t hookedObjects;
  size_t hookedSlots;
  size_t profilerBytes;  // the ring, address table and filter (fixed), the aggregate tables and the JS code map
};

// NativeSession is one per process: malloc hooks are process-wide, whichever thread (main or
// worker) starts them. All methods are thread-safe; none runs on the hook path.
class NativeSession {
 public:
  static NativeSession& instance();

  // start returns "" on success, else why not (already running, or the platform lacks glibc).
  std::string start(const NativeSettings& settings);
  // stop restores the GOT slots and discards the samples; does nothing when idle.
  void stop();
  bool running() const;
  // drainNow aggregates what the ring holds now (an isolate about to go away drains the stacks
  // of its last samples while its JS code can still be named).
  void drainNow();
  // snapshot: perPeriod makes a profile of the period since the previous perPeriod snapshot,
  // for continuous profiling (see Aggregator::snapshot).
  aggregate::AggregateSnapshot snapshot(bool perPeriod);
  NativeStats stats() const;

  // Memory the profiler may use for its own tables; the ring and address table come on top.
  static constexpr size_t kAggregateBudgetBytes = 16 * 1024 * 1024;

 private:
  NativeSession() = default;
  void drainLoop();
  static void onDlopen();
  // Closes the handle and names the sampled frames of every object that unloaded (from their
  // files: their memory is gone, a later profile's symbolizer would not find them).
  static int onDlclose(void* handle);
  void nameUnloadedFrames(std::vector<symbolize::LoadedObject> unloaded);
  // drainLocked aggregates what the ring holds (d_mutex held); false when not running.
  bool drainLocked();

  mutable std::mutex d_mutex;
  bool d_running = false;
  NativeSettings d_settings{};
  std::unique_ptr<hooks::GotPatcher> d_patcher;
  aggregate::Aggregator d_aggregator;
  // Function names of frames in objects unloaded since start, by return address.
  util::PrivateHashMap<uintptr_t, util::PrivateString> d_unloadedFrameNames;
  std::thread d_drainThread;
  std::atomic<bool> d_drainStop{false};
};

}  // namespace allocscope::session
