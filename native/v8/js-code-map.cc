// JsCodeMap: code ranges by start address, frames interned once.
#include "v8/js-code-map.h"

namespace allocscope::v8frames {

JsCodeMap& JsCodeMap::instance() {
  static JsCodeMap* map = new JsCodeMap();  // never destroyed: the drain may run until exit
  return *map;
}

void JsCodeMap::add(const void* isolate, uintptr_t start, size_t size, JsFrame frame) {
  if (size == 0) return;
  uintptr_t end = start + size;
  std::lock_guard<std::mutex> lock(d_mutex);
  // Drop what the new code overlaps: an entry starting before it that reaches into it, and
  // every entry starting inside it.
  auto it = d_codeByStart.lower_bound(start);
  if (it != d_codeByStart.begin()) {
    auto before = std::prev(it);
    if (before->second.end > start) d_codeByStart.erase(before);
  }
  while (it != d_codeByStart.end() && it->first < end) it = d_codeByStart.erase(it);
  d_codeByStart[start] = {end, isolate, internLocked(std::move(frame))};
  widenSpanLocked(start, end);
}

void JsCodeMap::widenSpanLocked(uintptr_t start, uintptr_t end) {
  if (start < d_spanStart) d_spanStart = start;
  if (end > d_spanEnd) d_spanEnd = end;
}

void JsCodeMap::move(uintptr_t from, uintptr_t to) {
  std::lock_guard<std::mutex> lock(d_mutex);
  auto found = d_codeByStart.find(from);
  if (found == d_codeByStart.end()) return;
  Code code = found->second;
  d_codeByStart.erase(found);
  uintptr_t size = code.end - from;
  code.end = to + size;
  auto it = d_codeByStart.lower_bound(to);
  if (it != d_codeByStart.begin() && std::prev(it)->second.end > to) d_codeByStart.erase(std::prev(it));
  while (it != d_codeByStart.end() && it->first < code.end) it = d_codeByStart.erase(it);
  d_codeByStart[to] = code;
  widenSpanLocked(to, code.end);
}

void JsCodeMap::removeIsolate(const void* isolate) {
  std::lock_guard<std::mutex> lock(d_mutex);
  for (auto it = d_codeByStart.begin(); it != d_codeByStart.end();) {
    it = it->second.isolate == isolate ? d_codeByStart.erase(it) : std::next(it);
  }
}

void JsCodeMap::translateStack(uintptr_t* frames, size_t count) {
  std::lock_guard<std::mutex> lock(d_mutex);
  for (size_t i = 0; i < count; ++i) {
    if (frames[i] > d_spanStart && frames[i] <= d_spanEnd) frames[i] = translateLocked(frames[i]);
  }
}

uintptr_t JsCodeMap::translateLocked(uintptr_t pc) const {
  // A return address may sit just past the code's last instruction (a call that ends it).
  uintptr_t address = pc - 1;
  auto it = d_codeByStart.upper_bound(address);
  if (it == d_codeByStart.begin()) return pc;
  --it;
  if (address >= it->second.end) return pc;
  return kJsFrameTag | it->second.frameId;
}

JsFrame JsCodeMap::frame(uintptr_t tagged) const {
  uintptr_t id = tagged & ~kJsFrameTag;
  std::lock_guard<std::mutex> lock(d_mutex);
  return id < d_frames.size() ? d_frames[id] : JsFrame{};
}

uint32_t JsCodeMap::internLocked(JsFrame frame) {
  std::string key = frame.function + '\0' + frame.script + '\0' + std::to_string(frame.line) + ':' +
                    std::to_string(frame.column);
  size_t keyBytes = key.size();
  auto [entry, added] = d_frameIds.try_emplace(std::move(key), static_cast<uint32_t>(d_frames.size()));
  if (added) {
    d_frameBytes += keyBytes + frame.function.size() + frame.script.size();
    d_frames.push_back(std::move(frame));
  }
  return entry->second;
}

size_t JsCodeMap::bytesUsed() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  // Tree and hash nodes with their overheads, estimated; strings counted as they were added.
  return d_codeByStart.size() * 64 + d_frames.size() * (sizeof(JsFrame) + 64) + d_frameBytes;
}

}  // namespace allocscope::v8frames
