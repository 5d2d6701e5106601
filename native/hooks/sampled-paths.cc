// The hooks' rare paths: sampling decisions past the countdown, recording, and forgetting sampled blocks.
#include "hooks/sampled-paths.h"

#include "aggregate/sample-recorder.h"
#include "hooks/originals.h"
#include "sampler/sampler.h"

namespace allocscope::hooks {

namespace {

__attribute__((noinline)) void recordSample(void* address, size_t size, uint64_t intervalBytes) {
  sampler::ScopedBusy busy;  // whatever recording allocates is not sampled
  // The recorder exists before any GOT slot points at a hook (start() creates it, and it is
  // never destroyed), so there is no null check.
  aggregate::SampleRecorder::get()->record(address, size, intervalBytes);
}

}  // namespace

__attribute__((noinline)) void* recordIfSampled(void* address, size_t size) {
  uint64_t intervalBytes = sampler::onCountdownCrossed(sampler::t_state, size);
  if (intervalBytes != 0 && address != nullptr) recordSample(address, size, intervalBytes);
  return address;
}

__attribute__((noinline)) int recordStatusIfSampled(int status, void** result, size_t size) {
  uint64_t intervalBytes = sampler::onCountdownCrossed(sampler::t_state, size);
  if (intervalBytes != 0 && status == 0) recordSample(*result, size, intervalBytes);
  return status;
}

__attribute__((noinline)) void forgetThenFree(void* address) {
  // Forget before the block goes back to libc: afterwards another thread may get the same
  // address and insert it, and we would forget the wrong sample.
  aggregate::SampleRecorder::get()->forgetSampled(address);
  g_originals.free(address);
}

__attribute__((noinline)) void* forgetThenRealloc(void* old, size_t size) {
  // The old block counts as freed even if realloc then fails: a rare, small undercount, where
  // forgetting it afterwards could forget another thread's new block at the same address.
  aggregate::SampleRecorder::get()->forgetSampled(old);
  void* address = g_originals.realloc(old, size);
  if (sampler::countDown(size)) return address;
  return recordIfSampled(address, size);
}

}  // namespace allocscope::hooks
