// CodeKinds: a fixed, lock-free cache of which loaded objects keep frame pointers.
#include "unwind/code-kinds.h"

#include <dlfcn.h>

#include <atomic>

#include "unwind/eh-frame.h"
#include "util/address-ranges.h"

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

// The main program's segments and one range per isolate. Full: such code is still walked
// correctly, after asking the loader.
util::AddressRanges<32> s_framePointerCode;

}  // namespace

void addFramePointerCode(uintptr_t start, uintptr_t end) { s_framePointerCode.add(start, end); }

void removeFramePointerCode(uintptr_t start) { s_framePointerCode.remove(start); }

bool isFramePointerCode(uintptr_t pc) { return s_framePointerCode.contains(pc); }

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
