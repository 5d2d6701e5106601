// Rewrites and restores the GOT slots of loaded ELF objects so that their allocator calls reach our hooks.
#pragma once

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "util/private-heap.h"

namespace allocscope::hooks {

// One symbol to interpose: calls to `name` go to `replacement`.
struct Interposition {
  const char* name;
  void* replacement;
};

// GotPatcher patches JUMP_SLOT and GLOB_DAT relocations of every loaded object except the
// dynamic loader, the vdso and the addon itself, and remembers each slot's old value so that
// restore() can put it back. Patching is idempotent per slot: every pass looks at every loaded
// object and rewrites the slots that do not hold a replacement yet, so an object unloaded and
// loaded again at the same address (a worker's addon) is patched again. Thread-safe: start,
// the dlopen hook and stop may race; while inactive, patch() does nothing.
class GotPatcher {
 public:
  explicit GotPatcher(std::vector<Interposition> interpositions);

  // activate patches every loaded object and makes later patch() calls work.
  void activate();
  // patch patches what is new since the last pass (after a dlopen); nothing while inactive.
  void patch();
  // deactivate restores every slot still holding a replacement, in objects still loaded.
  void deactivate();

  size_t patchedObjects() const;
  size_t patchedSlots() const;

 private:
  struct PatchedSlot {
    uintptr_t objectBase;
    void* original;
  };

  static int visitObject(::dl_phdr_info* info, size_t size, void* self);
  void patchObject(::dl_phdr_info* info);
  void patchLocked();

  std::vector<Interposition> d_interpositions;
  uintptr_t d_ownBase;
  mutable std::mutex d_mutex;
  bool d_active = false;
  util::PrivateHashMap<void**, PatchedSlot> d_slots;
};

}  // namespace allocscope::hooks
