// JsCodeMap: JIT code and bytecode ranges by start address, frames interned once.
#include "v8/js-code-map.h"

#include "unwind/interpreted-frames.h"

namespace allocscope::v8frames {

namespace {

// The frame of a bytecode frame whose array is not in the map.
const char kUnknownInterpreted[] = "(interpreted JS)";

}  // namespace

void JsCodeMap::Ranges::eraseOverlapping(uintptr_t start, uintptr_t end) {
  auto it = d_byStart.lower_bound(start);
  if (it != d_byStart.begin() && std::prev(it)->second.end > start) d_byStart.erase(std::prev(it));
  while (it != d_byStart.end() && it->first < end) it = d_byStart.erase(it);
}

void JsCodeMap::Ranges::add(const void* isolate, uintptr_t start, uintptr_t end, uint32_t frameId) {
  eraseOverlapping(start, end);
  d_byStart[start] = {end, isolate, frameId};
}

uintptr_t JsCodeMap::Ranges::move(uintptr_t from, uintptr_t to) {
  auto found = d_byStart.find(from);
  if (found == d_byStart.end()) return 0;
  Range range = found->second;
  d_byStart.erase(found);
  range.end = to + (range.end - from);
  eraseOverlapping(to, range.end);
  d_byStart[to] = range;
  return range.end;
}

void JsCodeMap::Ranges::removeIsolate(const void* isolate) {
  for (auto it = d_byStart.begin(); it != d_byStart.end();) {
    it = it->second.isolate == isolate ? d_byStart.erase(it) : std::next(it);
  }
}

int64_t JsCodeMap::Ranges::find(uintptr_t address) {
  auto it = d_byStart.upper_bound(address);
  if (it == d_byStart.begin()) return -1;
  --it;
  if (address >= it->second.end) return -1;
  it->second.used = true;
  return it->second.frameId;
}

void JsCodeMap::Ranges::forgetUnused() {
  for (auto it = d_byStart.begin(); it != d_byStart.end();) {
    if (!it->second.used) {
      it = d_byStart.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

JsCodeMap& JsCodeMap::instance() {
  static JsCodeMap* map = new JsCodeMap();  // never destroyed: the drain may run until exit
  return *map;
}

void JsCodeMap::setBeforeChange(void (*drainPending)()) { d_beforeChange.store(drainPending, std::memory_order_release); }

void JsCodeMap::beforeChange() const {
  if (auto drainPending = d_beforeChange.load(std::memory_order_acquire)) drainPending();
}

void JsCodeMap::add(const void* isolate, uintptr_t start, size_t size, const JsFrame& frame) {
  if (size == 0) return;
  beforeChange();
  std::lock_guard<std::mutex> lock(d_mutex);
  d_code.add(isolate, start, start + size, internLocked(frame));
  widenSpanLocked(start, start + size);
}

void JsCodeMap::addBytecode(const void* isolate, uintptr_t start, size_t size, const JsFrame& frame) {
  if (size == 0) return;
  beforeChange();
  std::lock_guard<std::mutex> lock(d_mutex);
  d_bytecode.add(isolate, start, start + size, internLocked(frame));
  if (d_bytecode.size() > kMaxBytecodeRanges) d_bytecode.forgetUnused();
}

void JsCodeMap::widenSpanLocked(uintptr_t start, uintptr_t end) {
  if (start < d_spanStart) d_spanStart = start;
  if (end > d_spanEnd) d_spanEnd = end;
}

void JsCodeMap::move(uintptr_t from, uintptr_t to) {
  beforeChange();
  std::lock_guard<std::mutex> lock(d_mutex);
  uintptr_t end = d_code.move(from, to);
  if (end != 0) {
    widenSpanLocked(to, end);
  } else {
    d_bytecode.move(from, to);
  }
}

void JsCodeMap::removeIsolate(const void* isolate) {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_code.removeIsolate(isolate);
  d_bytecode.removeIsolate(isolate);
}

void JsCodeMap::translateStack(uintptr_t* frames, size_t count) {
  std::lock_guard<std::mutex> lock(d_mutex);
  for (size_t i = 0; i < count; ++i) {
    if (unwind::isBytecodeFrame(frames[i]) || (frames[i] > d_spanStart && frames[i] <= d_spanEnd)) {
      frames[i] = translateLocked(frames[i]);
    }
  }
}

uintptr_t JsCodeMap::translateLocked(uintptr_t pc) {
  if (unwind::isBytecodeFrame(pc)) {
    int64_t id = d_bytecode.find(unwind::bytecodeAddress(pc));
    return kJsFrameTag | (id >= 0 ? static_cast<uint32_t>(id) : internLocked({kUnknownInterpreted, "", 0, 0}));
  }
  // A return address may sit just past the code's last instruction (a call that ends it).
  int64_t id = d_code.find(pc - 1);
  return id >= 0 ? kJsFrameTag | static_cast<uint32_t>(id) : pc;
}

JsFrame JsCodeMap::frame(uintptr_t tagged) const {
  uintptr_t id = tagged & ~kJsFrameTag;
  std::lock_guard<std::mutex> lock(d_mutex);
  if (id >= d_frames.size()) return JsFrame{};
  const StoredFrame& stored = d_frames[id];
  return {std::string(stored.function), std::string(stored.script), stored.line, stored.column};
}

uint32_t JsCodeMap::internLocked(const JsFrame& frame) {
  util::PrivateString key(frame.function);
  key += '\0';
  key += frame.script;
  key += '\0';
  key += std::to_string(frame.line) + ':' + std::to_string(frame.column);
  size_t keyBytes = key.size();
  auto [entry, added] = d_frameIds.try_emplace(std::move(key), static_cast<uint32_t>(d_frames.size()));
  if (added) {
    d_frameBytes += keyBytes + frame.function.size() + frame.script.size();
    d_frames.push_back({util::PrivateString(frame.function), util::PrivateString(frame.script), frame.line, frame.column});
  }
  return entry->second;
}

size_t JsCodeMap::bytesUsed() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  // Tree and hash nodes with their overheads, estimated; strings counted as they were added.
  return (d_code.size() + d_bytecode.size()) * 64 + d_frames.size() * (sizeof(StoredFrame) + 64) + d_frameBytes;
}

}  // namespace allocscope::v8frames
