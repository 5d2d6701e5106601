// CodeKinds: a fixed, lock-free cache of which loaded objects keep frame pointers.
#include "unwind/code-kinds.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>

#include "unwind/eh-frame.h"

// Weak, so the addon still loads on glibc older than 2.35; canFindObjects() then says no.
#pragma weak _dl_find_object

namespace allocscope::unwind {

namespace {

struct CachedObject {
  std::atomic<uintptr_t> start{0};  // published last: 0 means the slot is not filled yet
  std::atomic<uintptr_t> end{0};
  std::atomic<const void*> linkMap{nullptr};
  std::atomic<bool> framePointers{false};
};

// Processes load tens of objects; an object beyond this many is classified on every lookup.
constexpr int kCachedObjects = 256;
CachedObject s_objects[kCachedObjects];
std::atomic<int> s_claimed{0};

// The cached answer for this object, or -1. Keyed by range and link map, so an object loaded
// where an unloaded one was is classified afresh.
int cachedFramePointers(uintptr_t start, uintptr_t end, const void* linkMap) {
  int filled = s_claimed.load(std::memory_order_acquire);
  if (filled > kCachedObjects) filled = kCachedObjects;
  for (int i = 0; i < filled; ++i) {
    const CachedObject& entry = s_objects[i];
    if (entry.start.load(std::memory_order_acquire) == start && entry.end.load(std::memory_order_relaxed) == end &&
        entry.linkMap.load(std::memory_order_relaxed) == linkMap) {
      return entry.framePointers.load(std::memory_order_relaxed) ? 1 : 0;
    }
  }
  return -1;
}

void cache(uintptr_t start, uintptr_t end, const void* linkMap, bool framePointers) {
  int slot = s_claimed.fetch_add(1, std::memory_order_acq_rel);
  if (slot >= kCachedObjects) return;
  CachedObject& entry = s_objects[slot];
  entry.end.store(end, std::memory_order_relaxed);
  entry.linkMap.store(linkMap, std::memory_order_relaxed);
  entry.framePointers.store(framePointers, std::memory_order_relaxed);
  entry.start.store(start, std::memory_order_release);
}

struct CodeRange {
  std::atomic<uintptr_t> start{0};  // 0: a free slot
  std::atomic<uintptr_t> end{0};
};

constexpr int kFramePointerRanges = 32;  // the main program's segments and one range per isolate
CodeRange s_framePointerCode[kFramePointerRanges];
std::atomic<int> s_framePointerSlotsUsed{0};  // slots at or past this were never filled
std::mutex s_framePointerCodeWriters;

}  // namespace

void addFramePointerCode(uintptr_t start, uintptr_t end) {
  std::lock_guard<std::mutex> lock(s_framePointerCodeWriters);
  for (int slot = 0; slot < kFramePointerRanges; ++slot) {
    CodeRange& range = s_framePointerCode[slot];
    if (range.start.load(std::memory_order_relaxed) != 0) continue;
    range.end.store(end, std::memory_order_relaxed);
    range.start.store(start, std::memory_order_release);
    if (slot >= s_framePointerSlotsUsed.load(std::memory_order_relaxed)) {
      s_framePointerSlotsUsed.store(slot + 1, std::memory_order_release);
    }
    return;
  }
  // Full: such code is still walked correctly, after asking the loader.
}

void removeFramePointerCode(uintptr_t start) {
  std::lock_guard<std::mutex> lock(s_framePointerCodeWriters);
  // One slot: isolates that share a code range each registered it.
  for (CodeRange& range : s_framePointerCode) {
    if (range.start.load(std::memory_order_relaxed) != start) continue;
    range.start.store(0, std::memory_order_release);
    return;
  }
}

bool isFramePointerCode(uintptr_t pc) {
  int used = s_framePointerSlotsUsed.load(std::memory_order_acquire);
  for (int slot = 0; slot < used; ++slot) {
    const CodeRange& range = s_framePointerCode[slot];
    uintptr_t start = range.start.load(std::memory_order_acquire);
    if (start != 0 && pc >= start && pc < range.end.load(std::memory_order_relaxed)) return true;
  }
  return false;
}

bool canFindObjects() { return &_dl_find_object != nullptr; }

CodeInfo lookUpCode(uintptr_t pc) {
  dl_find_object object;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &object) != 0) return {};
  CodeInfo info;
  info.objectStart = reinterpret_cast<uintptr_t>(object.dlfo_map_start);
  info.objectEnd = reinterpret_cast<uintptr_t>(object.dlfo_map_end);
  int framePointers = cachedFramePointers(info.objectStart, info.objectEnd, object.dlfo_link_map);
  if (framePointers < 0) {
    framePointers = object.dlfo_eh_frame != nullptr && keepsFramePointers(object.dlfo_eh_frame) ? 1 : 0;
    cache(info.objectStart, info.objectEnd, object.dlfo_link_map, framePointers == 1);
  }
  if (framePointers == 1) {
    info.kind = CodeKind::kFramePointers;
  } else {
    info.kind = CodeKind::kUnwindTables;
    info.ehFrameHdr = object.dlfo_eh_frame;
  }
  return info;
}

}  // namespace allocscope::unwind
