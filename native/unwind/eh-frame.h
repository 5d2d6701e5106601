// Reads a loaded object's .eh_frame_hdr/.eh_frame in memory: how to step from a frame to its caller.
#pragma once

#include <cstdint>

namespace allocscope::unwind {

// DWARF register numbers on x86-64.
constexpr int kRegisterFramePointer = 6;  // rbp
constexpr int kRegisterStackPointer = 7;  // rsp
constexpr int kRegisterReturnAddress = 16;

// How a register of the caller is found, for the two registers a stack walk needs.
struct SavedRegister {
  enum class Kind : uint8_t {
    kSameValue,    // the callee did not change it
    kAtCfaOffset,  // saved in memory at CFA + offset
    kUndefined,    // gone: for the return address, the end of the stack
    kUnsupported,  // an expression or another register: this walk cannot follow it
  };
  Kind kind = Kind::kSameValue;
  int32_t offset = 0;
};

// The unwind row that holds at one instruction: CFA = register + offset, and where rbp and the
// return address were saved relative to the CFA (the caller's stack pointer).
struct FrameRule {
  int cfaRegister = kRegisterStackPointer;
  int64_t cfaOffset = 8;
  bool cfaIsExpression = false;
  SavedRegister framePointer;
  SavedRegister returnAddress;
};

// findFrameRule looks `address` (an instruction address, for a return address pass it minus
// one) up in the object whose PT_GNU_EH_FRAME segment starts at ehFrameHdr and returns false
// when the object has no entry for it or uses an encoding this reader does not know. Reads only
// the object's own tables, within the lengths they state; no allocation, no lock.
bool findFrameRule(const void* ehFrameHdr, uintptr_t address, FrameRule& rule);

// keepsFramePointers tells from a sample of up to `probes` of the object's functions whether it
// was compiled with frame pointers: most of them define the CFA from rbp after their prologue.
bool keepsFramePointers(const void* ehFrameHdr, int probes = 64);

}  // namespace allocscope::unwind
