// A small cache of unwind rows by return address, shared by all threads: a step through a distro library costs one lookup.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "unwind/eh-frame.h"

namespace allocscope::unwind {

// Finding a row in .eh_frame (a binary search, then the CIE and FDE programs) costs a few hundred
// ns, and a few call sites (operator new, libc's start of main) are in most stacks. Entries are
// direct-mapped by address and guarded by a per-entry sequence number: readers never wait, and a
// writer that finds an entry busy just does not cache.
class RuleCache {
 public:
  // The cached row for `pc`, or false.
  static bool find(uintptr_t pc, FrameRule& rule);
  // Caches the row for `pc` when it has the shape a cache entry holds.
  static void store(uintptr_t pc, const FrameRule& rule);
  // Forgets everything: a newly loaded object may sit where an unloaded one was.
  static void clear();
};

}  // namespace allocscope::unwind
