// Rewrites and restores the GOT slots of loaded ELF objects so that their allocator calls reach our hooks.
#pragma once

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace allocscope::hooks {

// One symbol to interpose: calls to `name` go to `replacement`.
struct Interposition {
  const char* name;
  void* replacement;
};

// GotPatcher patches JUMP_SLOT and GLOB_DAT relocations of every loaded object except the
// dynamic loader, the vdso and the addon itself, and remembers each slot's old value so that
// restore() can put it back. Thread-safe: start, the dlopen hook and stop may race.
class GotPatcher {
 public:
  explicit GotPatcher(std::vector<Interposition> interpositions);

  // Patches objects not patched yet (all of them on the first call, new ones after a dlopen).
  void patchLoadedObjects();
  // Restores every slot still holding our replacement, in objects that are still loaded.
  void restore();

  size_t patchedObjects() const;
  size_t patchedSlots() const;

 private:
  struct PatchedSlot {
    uintptr_t objectBase;
    void** slot;
    void* original;
  };
  struct PatchedObject {
    uintptr_t base;
    std::string name;
  };

  static int visitObject(::dl_phdr_info* info, size_t size, void* self);
  void patchObject(::dl_phdr_info* info);
  bool alreadyPatched(uintptr_t base, const char* name) const;

  std::vector<Interposition> d_interpositions;
  uintptr_t d_ownBase;
  mutable std::mutex d_mutex;
  std::vector<PatchedObject> d_objects;
  std::vector<PatchedSlot> d_slots;
};

}  // namespace allocscope::hooks
