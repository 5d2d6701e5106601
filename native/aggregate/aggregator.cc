// Aggregator: interns stacks, accumulates allocation totals, and computes in-use memory from live samples.
#include "aggregate/aggregator.h"

#include <unordered_set>

#include "sampler/sampler.h"

namespace allocscope::aggregate {

size_t Aggregator::StackHash::operator()(const std::vector<uintptr_t>& frames) const {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uintptr_t frame : frames) hash = (hash ^ frame) * 0x100000001b3ull;
  return static_cast<size_t>(hash);
}

void Aggregator::drain(SampleRing& ring, const AddressTable& table, uint64_t intervalBytes, bool prune) {
  std::lock_guard<std::mutex> lock(d_mutex);
  drainLocked(ring, intervalBytes);
  if (prune) pruneLocked(table, intervalBytes, nullptr);
}

void Aggregator::setStackTranslator(StackTranslator translate) {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_translate = translate;
}

int64_t Aggregator::internLocked(const std::vector<uintptr_t>& raw) {
  auto known = d_rawStackIds.find(raw);
  if (known != d_rawStackIds.end()) return known->second;
  if (bytesUsedLocked() >= d_maxBytes) return -1;
  std::vector<uintptr_t> frames = raw;
  if (d_translate != nullptr) d_translate(frames.data(), frames.size());
  auto [entry, added] = d_stackIds.try_emplace(frames, static_cast<uint32_t>(d_stacks.size()));
  if (added) {
    d_stacks.push_back(std::move(frames));
    d_totals.emplace_back();
    d_frameCount += 2 * raw.size();
  }
  d_rawStackIds.emplace(raw, entry->second);
  d_frameCount += raw.size();
  return entry->second;
}

void Aggregator::drainLocked(SampleRing& ring, uint64_t intervalBytes) {
  std::vector<uintptr_t> frames;
  while (ring.tryPop([&](const ring::SampleRecord& record) {
    if (record.sampleId == 0) return;  // its address found no cell in the table (counted there)
    frames.assign(record.frames, record.frames + record.depth);
    int64_t stack = internLocked(frames);
    if (stack < 0) {
      ++d_droppedStackTableFull;
      return;
    }
    double weight = sampler::sampleWeight(record.sizeBytes, intervalBytes);
    StackTotals& totals = d_totals[stack];
    totals.allocObjects += weight;
    totals.allocBytes += weight * static_cast<double>(record.sizeBytes);
    d_live[record.sampleId] = {static_cast<uint32_t>(stack), record.sizeBytes};
  })) {
  }
}

AggregateSnapshot Aggregator::snapshot(SampleRing& ring, const AddressTable& table, uint64_t intervalBytes) {
  std::lock_guard<std::mutex> lock(d_mutex);
  drainLocked(ring, intervalBytes);
  AggregateSnapshot result;
  result.stacks = d_stacks;
  result.totals = d_totals;
  pruneLocked(table, intervalBytes, &result.totals);
  result.liveSamples = d_live.size();
  return result;
}

void Aggregator::pruneLocked(const AddressTable& table, uint64_t intervalBytes, std::vector<StackTotals>* inuse) {
  std::unordered_set<uint64_t> live;
  live.reserve(d_live.size());
  table.forEachLive([&](uint64_t sampleId) {
    auto found = d_live.find(sampleId);
    // An id the drain has not seen yet belongs to a record still being written: next time.
    if (found == d_live.end()) return;
    live.insert(sampleId);
    if (inuse == nullptr) return;
    double weight = sampler::sampleWeight(found->second.sizeBytes, intervalBytes);
    StackTotals& totals = (*inuse)[found->second.stack];
    totals.inuseObjects += weight;
    totals.inuseBytes += weight * static_cast<double>(found->second.sizeBytes);
  });
  for (auto it = d_live.begin(); it != d_live.end();) {
    it = live.count(it->first) != 0 ? std::next(it) : d_live.erase(it);
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
         d_stacks.size() * sizeof(StackTotals) + d_live.size() * 48;
}

uint64_t Aggregator::liveSamples() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_live.size();
}

}  // namespace allocscope::aggregate
