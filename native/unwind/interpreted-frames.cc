// Interpreted frames: the registry of interpreter entry code and the decoding of a frame's bytecode slots.
#include "unwind/interpreted-frames.h"

#include "util/address-ranges.h"

namespace allocscope::unwind {

namespace {

// A handful per isolate (the entry and the two re-entries V8 uses after deoptimizing): room
// for 21 isolates with their own copies. Past that, interpreted frames show as the builtin.
util::AddressRanges<64> s_interpreterEntries;

// V8's tagging, as in v8-internal.h: heap pointers end in binary 01, small integers (Smis) in 0.
// Node builds without pointer compression keep a Smi's 32-bit value in the upper half; builds
// with it keep 31 bits above the tag.
constexpr uintptr_t kHeapObjectTagMask = 3;
constexpr uintptr_t kHeapObjectTag = 1;
constexpr uintptr_t kSmiTagMask = 1;
#if defined(V8_COMPRESS_POINTERS) || defined(V8_31BIT_SMIS_ON_64BIT_ARCH)
intptr_t smiValue(uintptr_t smi) { return static_cast<int32_t>(static_cast<uint32_t>(smi)) >> 1; }
#else
intptr_t smiValue(uintptr_t smi) { return static_cast<intptr_t>(smi) >> 32; }
#endif

// A bytecode array is smaller than this (V8 limits functions' bytecode far below it); an offset
// past it is not one.
constexpr intptr_t kMaxBytecodeOffset = intptr_t{1} << 30;

}  // namespace

void addInterpreterEntry(uintptr_t start, uintptr_t end) { s_interpreterEntries.add(start, end); }

void removeInterpreterEntry(uintptr_t start) { s_interpreterEntries.remove(start); }

bool isInterpreterEntry(uintptr_t pc) { return s_interpreterEntries.contains(pc); }

uintptr_t bytecodeFrame(uintptr_t bytecodeArraySlot, uintptr_t bytecodeOffsetSlot) {
  if ((bytecodeArraySlot & kHeapObjectTagMask) != kHeapObjectTag) return 0;
  if ((bytecodeOffsetSlot & kSmiTagMask) != 0) return 0;
  // The offset counts from the tagged pointer, past the array's header: V8's sampler adds the two.
  intptr_t offset = smiValue(bytecodeOffsetSlot);
  if (offset <= 0 || offset >= kMaxBytecodeOffset) return 0;
  uintptr_t address = bytecodeArraySlot + static_cast<uintptr_t>(offset);
  if (address < bytecodeArraySlot || address >= kBytecodeTag) return 0;  // not a user-space address
  return kBytecodeTag | address;
}

}  // namespace allocscope::unwind
