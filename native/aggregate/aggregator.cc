// Aggregator: interns stacks, accumulates allocation totals, and computes in-use memory from live samples.
#include "aggregate/aggregator.h"

#include <algorithm>
#include <unordered_set>

#include "sampler/sampler.h"

namespace allocscope::aggregate {

size_t Aggregator::StackHash::operator()(const Frames& frames) const {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uintptr_t frame : frames) hash = (hash ^ frame) * 0x100000001b3ull;
  return static_cast<size_t>(hash);
}

void Aggregator::drain(SampleRing& ring, const AddressTable& table, bool prune) {
  std::lock_guard<std::mutex> lock(d_mutex);
  drainLocked(ring);
  if (prune) pruneLocked(table);
}

void Aggregator::setStackTranslator(StackTranslator translate) {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_translate = translate;
}

int64_t Aggregator::internLocked(const Frames& raw) {
  auto known = d_rawStackIds.find(raw);
  if (known != d_rawStackIds.end()) return known->second;
  if (bytesUsedLocked() >= d_maxBytes) return -1;
  Frames frames = raw;
  if (d_translate != nullptr) d_translate(frames.data(), frames.size());
  auto [entry, added] = d_stackIds.try_emplace(frames, static_cast<uint32_t>(d_stacks.size()));
  if (added) {
    d_stacks.push_back(std::move(frames));
    d_totals.emplace_back();
    d_periodAlloc.emplace_back();
    d_sampledEpoch.push_back(d_epoch);
    d_frameCount += 2 * raw.size();
  }
  d_rawStackIds.emplace(raw, entry->second);
  d_frameCount += raw.size();
  return entry->second;
}

void Aggregator::drainLocked(SampleRing& ring) {
  Frames frames;
  // At most a ringful: all that was published when the drain began, and no more, so that
  // producers as fast as the drain cannot keep it here (the drain thread has a budget to keep).
  for (size_t left = ring.capacity(); left > 0 && ring.tryPop([&](const ring::SampleRecord& record) {
    if (record.sampleId == 0) return;  // its address found no cell in the table (counted there)
    frames.assign(record.frames, record.frames + record.depth);
    int64_t stack = internLocked(frames);
    if (stack < 0) {
      ++d_droppedStackTableFull;
      return;
    }
    double weight = sampler::sampleWeight(record.sizeBytes, record.intervalBytes);
    StackTotals& totals = d_totals[stack];
    totals.allocObjects += weight;
    totals.allocBytes += weight * static_cast<double>(record.sizeBytes);
    PeriodAlloc& period = d_periodAlloc[stack];
    period.objects += weight;
    period.bytes += weight * static_cast<double>(record.sizeBytes);
    d_sampledEpoch[stack] = d_epoch;
    d_live[record.sampleId] = {static_cast<uint32_t>(stack), record.sizeBytes, weight};
  }); --left) {
  }
}

AggregateSnapshot Aggregator::snapshot(SampleRing& ring, const AddressTable& table, bool perPeriod) {
  std::lock_guard<std::mutex> lock(d_mutex);
  drainLocked(ring);
  pruneLocked(table);
  // After pruning, so that a stack whose samples were all freed counts as having none live.
  if (perPeriod) forgetIdleLocked();
  AggregateSnapshot result;
  result.stacks.reserve(d_stacks.size());
  for (const Frames& stack : d_stacks) result.stacks.emplace_back(stack.begin(), stack.end());
  result.totals.assign(d_totals.begin(), d_totals.end());
  if (perPeriod) {
    // Every stack left was sampled in the period or has samples live: none is all zeros.
    for (size_t id = 0; id < d_periodAlloc.size(); ++id) {
      result.totals[id].allocObjects = d_periodAlloc[id].objects;
      result.totals[id].allocBytes = d_periodAlloc[id].bytes;
      d_periodAlloc[id] = {};
    }
  }
  for (const auto& [sampleId, sample] : d_live) {
    StackTotals& totals = result.totals[sample.stack];
    totals.inuseObjects += sample.weight;
    totals.inuseBytes += sample.weight * static_cast<double>(sample.sizeBytes);
  }
  result.liveSamples = d_live.size();
  return result;
}

void Aggregator::pruneLocked(const AddressTable& table) {
  std::unordered_set<uint64_t> live;
  live.reserve(d_live.size());
  table.forEachLive([&](uint64_t sampleId) {
    // An id the drain has not seen yet belongs to a record still being written: next time.
    if (d_live.count(sampleId) != 0) live.insert(sampleId);
  });
  for (auto it = d_live.begin(); it != d_live.end();) {
    it = live.count(it->first) != 0 ? std::next(it) : d_live.erase(it);
  }
}

void Aggregator::forgetIdleLocked() {
  // A stack with no sample this epoch allocated nothing this period, so a per-period profile
  // loses nothing without it; one with live samples still has in-use memory to report.
  std::vector<bool> keep(d_stacks.size());
  for (size_t id = 0; id < d_stacks.size(); ++id) keep[id] = d_sampledEpoch[id] == d_epoch;
  for (const auto& [sampleId, sample] : d_live) keep[sample.stack] = true;
  ++d_epoch;
  if (std::find(keep.begin(), keep.end(), false) == keep.end()) return;

  // Ids stay dense (they index d_stacks): the kept stacks move down, in order.
  constexpr uint32_t kForgotten = UINT32_MAX;
  std::vector<uint32_t> newIds(d_stacks.size(), kForgotten);
  uint32_t kept = 0;
  for (size_t id = 0; id < d_stacks.size(); ++id) {
    if (!keep[id]) {
      d_frameCount -= d_stacks[id].size();
      continue;
    }
    newIds[id] = kept;
    if (kept != id) {  // a vector moved onto itself would empty
      d_stacks[kept] = std::move(d_stacks[id]);
      d_totals[kept] = d_totals[id];
      d_periodAlloc[kept] = d_periodAlloc[id];
      d_sampledEpoch[kept] = d_sampledEpoch[id];
    }
    ++kept;
  }
  d_stacks.resize(kept);
  d_totals.resize(kept);
  d_periodAlloc.resize(kept);
  d_sampledEpoch.resize(kept);
  for (auto& [sampleId, sample] : d_live) sample.stack = newIds[sample.stack];
  // Both key maps (raw and translated frames) drop the keys of forgotten stacks: a raw stack
  // seen again is translated again, with the JS code map of that time.
  for (auto* ids : {&d_rawStackIds, &d_stackIds}) {
    for (auto it = ids->begin(); it != ids->end();) {
      uint32_t newId = newIds[it->second];
      if (newId == kForgotten) {
        d_frameCount -= it->first.size();
        it = ids->erase(it);
      } else {
        it->second = newId;
        ++it;
      }
    }
  }
}

std::vector<uintptr_t> Aggregator::framesWithin(uintptr_t start, uintptr_t end) const {
  std::lock_guard<std::mutex> lock(d_mutex);
  std::unordered_set<uintptr_t> found;
  for (const auto& stack : d_stacks) {
    for (uintptr_t pc : stack) {
      if (pc >= start && pc < end) found.insert(pc);
    }
  }
  return {found.begin(), found.end()};
}

void Aggregator::reset() {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_rawStackIds.clear();
  d_stackIds.clear();
  d_stacks.clear();
  d_totals.clear();
  d_periodAlloc.clear();
  d_sampledEpoch.clear();
  d_epoch = 0;
  d_live.clear();
  d_frameCount = 0;
  d_droppedStackTableFull = 0;
}

size_t Aggregator::bytesUsed() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return bytesUsedLocked();
}

uint64_t Aggregator::droppedStackTableFull() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_droppedStackTableFull;
}

size_t Aggregator::bytesUsedLocked() const {
  // d_frameCount counts every stored frame (raw key, translated key, stack list); node
  // overheads are estimated.
  return d_frameCount * sizeof(uintptr_t) + (d_rawStackIds.size() + d_stacks.size()) * 96 +
         d_stacks.size() * (sizeof(StackTotals) + sizeof(PeriodAlloc) + sizeof(uint64_t)) + d_live.size() * 56;
}

uint64_t Aggregator::liveSamples() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_live.size();
}

}  // namespace allocscope::aggregate
