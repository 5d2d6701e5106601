// Which code keeps frame pointers: decided once per loaded object from its unwind tables, then cached.
#pragma once

#include <cstdint>

namespace allocscope::unwind {

enum class CodeKind : uint8_t {
  kFramePointers,  // an object built with frame pointers (Node, node-gyp addons)
  kUnwindTables,   // an object built without them (distro libraries): step with .eh_frame
  kNotInObject,    // in no loaded object: V8's JIT code, which keeps frame pointers
};

struct CodeInfo {
  CodeKind kind = CodeKind::kNotInObject;
  const void* ehFrameHdr = nullptr;  // set for kUnwindTables
  uintptr_t objectStart = 0;         // the object's mapped range (0, 0 when in none)
  uintptr_t objectEnd = 0;
};

// True when glibc can find objects by address without the loader lock (_dl_find_object,
// glibc 2.35): the stack walk needs it, and takes nothing else from the loader.
bool canFindObjects();

// Code known to keep frame pointers, checked before asking the loader (which costs ~10-15 ns a
// frame): the main program when it was built with them, and each isolate's JIT code range. A
// handful of ranges, registered outside the hooks, read lock-free.
void addFramePointerCode(uintptr_t start, uintptr_t end);
void removeFramePointerCode(uintptr_t start);
bool isFramePointerCode(uintptr_t pc);

// lookUpCode says how to step out of the frame whose return address is `pc`. The first lookup
// in an object classifies it (reading a sample of its unwind tables, a few microseconds); later
// ones find it in a fixed, lock-free cache. No allocation, no lock.
CodeInfo lookUpCode(uintptr_t pc);

}  // namespace allocscope::unwind
