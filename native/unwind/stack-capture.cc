// Stack capture for sampled allocations: a frame-pointer walk that reads .eh_frame for the frames without one.
#include "unwind/stack-capture.h"

#include <link.h>
#include <pthread.h>

#include "unwind/code-kinds.h"
#include "unwind/eh-frame.h"
#include "unwind/interpreted-frames.h"
#include "unwind/rule-cache.h"

// The stack pointer at process start, kept by the dynamic loader.
extern "C" void* __libc_stack_end;

namespace allocscope::unwind {

namespace {

uintptr_t s_selfStart = 0;
uintptr_t s_selfEnd = 0;

bool isOwnCode(uintptr_t pc) { return pc >= s_selfStart && pc < s_selfEnd; }

// The main program (the first object) is never unloaded: when it keeps frame pointers, its
// frames need not be looked up at all.
int registerMainProgram(struct dl_phdr_info* info, size_t, void*) {
  const void* ehFrameHdr = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) {
      ehFrameHdr = reinterpret_cast<const void*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    }
  }
  if (ehFrameHdr == nullptr || !keepsFramePointers(ehFrameHdr)) return 1;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& phdr = info->dlpi_phdr[i];
    if (phdr.p_type == PT_LOAD && (phdr.p_flags & PF_X)) {
      uintptr_t start = info->dlpi_addr + phdr.p_vaddr;
      addFramePointerCode(start, start + phdr.p_memsz);
    }
  }
  return 1;  // only the first object
}

int findSelf(struct dl_phdr_info* info, size_t, void*) {
  uintptr_t probe = reinterpret_cast<uintptr_t>(&findSelf);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& phdr = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + phdr.p_vaddr;
    if (phdr.p_type == PT_LOAD && (phdr.p_flags & PF_X) && probe >= start && probe < start + phdr.p_memsz) {
      s_selfStart = start;
      s_selfEnd = start + phdr.p_memsz;
      return 1;
    }
  }
  return 0;
}

// The highest address of the calling thread's stack, cached per thread.
__thread uintptr_t t_stackTop __attribute__((tls_model("initial-exec"))) = 0;

// No stack is larger; a candidate top farther above the current frame is not this stack's.
constexpr uintptr_t kMaxStackBytes = uintptr_t{1} << 30;

bool isTopOf(uintptr_t candidate, uintptr_t here) { return candidate > here && candidate - here < kMaxStackBytes; }

// Found without pthread_getattr_np: it holds the thread's lock while it reallocs, and that realloc
// is hooked, so a sample taken inside it would call it again and wait on itself forever (seen on
// threads whose start calls it: ASan's, V8's). glibc places a thread's descriptor, pthread_self(),
// at the top of the stack block it gives the thread (above its static TLS, also readable); the
// main thread's frames all lie below __libc_stack_end. A stack that is neither is not walked.
uintptr_t stackTop() {
  if (t_stackTop == 0) {
    auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    auto descriptor = reinterpret_cast<uintptr_t>(pthread_self());
    auto mainStackEnd = reinterpret_cast<uintptr_t>(__libc_stack_end);
    t_stackTop = isTopOf(descriptor, here) ? descriptor : isTopOf(mainStackEnd, here) ? mainStackEnd : here;
  }
  return t_stackTop;
}

// Where a walk is: the return address into a frame, that frame's stack pointer (the CFA of the
// frame below) and its rbp. Every address read lies in [stackPointer, stackTop).
struct Frame {
  uintptr_t pc;
  uintptr_t stackPointer;
  uintptr_t framePointer;
};

uintptr_t load(uintptr_t address) { return *reinterpret_cast<const uintptr_t*>(address); }

bool readable(uintptr_t address, const Frame& frame, uintptr_t top) {
  return address >= frame.stackPointer && address + sizeof(uintptr_t) <= top && (address & 7) == 0;
}

// The tagged bytecode of an interpreted JS frame (see interpreted-frames.h), or its return
// address when it is not one or its slots do not hold a bytecode position.
uintptr_t frameOrBytecode(const Frame& frame, uintptr_t top) {
  if (!isInterpreterEntry(frame.pc - 1)) return frame.pc;
  uintptr_t arraySlot = frame.framePointer + kBytecodeArrayFromFp;
  uintptr_t offsetSlot = frame.framePointer + kBytecodeOffsetFromFp;
  if (!readable(arraySlot, frame, top) || !readable(offsetSlot, frame, top)) return frame.pc;
  uintptr_t bytecode = bytecodeFrame(load(arraySlot), load(offsetSlot));
  return bytecode != 0 ? bytecode : frame.pc;
}

// Through a frame record [saved rbp, return address] at rbp; frames only move up the stack.
bool stepFramePointer(Frame& frame, uintptr_t top) {
  uintptr_t record = frame.framePointer;
  if (!readable(record, frame, top) || !readable(record + 8, frame, top)) return false;
  frame.pc = load(record + 8);
  frame.framePointer = load(record);
  frame.stackPointer = record + 16;
  return frame.pc >= 4096;
}

// Through the unwind table row for the call site (pc - 1: the call may end the function).
bool stepUnwindTables(Frame& frame, const void* ehFrameHdr, uintptr_t top) {
  FrameRule rule;
  if (!RuleCache::find(frame.pc, rule)) {
    if (!findFrameRule(ehFrameHdr, frame.pc - 1, rule) || rule.cfaIsExpression) return false;
    RuleCache::store(frame.pc, rule);
  }
  uintptr_t base;
  if (rule.cfaRegister == kRegisterStackPointer) {
    base = frame.stackPointer;
  } else if (rule.cfaRegister == kRegisterFramePointer) {
    base = frame.framePointer;
  } else {
    return false;
  }
  uintptr_t cfa = base + rule.cfaOffset;
  if (cfa <= frame.stackPointer || cfa > top) return false;
  if (rule.returnAddress.kind != SavedRegister::Kind::kAtCfaOffset) return false;  // undefined: the stack's end
  uintptr_t returnAddressSlot = cfa + rule.returnAddress.offset;
  if (!readable(returnAddressSlot, frame, top)) return false;
  uintptr_t framePointer = frame.framePointer;
  switch (rule.framePointer.kind) {
    case SavedRegister::Kind::kSameValue: break;
    case SavedRegister::Kind::kAtCfaOffset: {
      uintptr_t slot = cfa + rule.framePointer.offset;
      framePointer = readable(slot, frame, top) ? load(slot) : 0;
      break;
    }
    default: framePointer = 0; break;  // unknown from here: only tables can go on
  }
  frame.pc = load(returnAddressSlot);
  frame.framePointer = framePointer;
  frame.stackPointer = cfa;
  return frame.pc >= 4096;
}

}  // namespace

bool initStackCapture() {
  if (!canFindObjects()) return false;
  if (s_selfEnd == 0) {
    dl_iterate_phdr(&findSelf, nullptr);
    dl_iterate_phdr(&registerMainProgram, nullptr);
  }
  uintptr_t warmUp[4];
  captureStack(warmUp, 4);
  return true;
}

int captureStack(uintptr_t* frames, int maxDepth) {
  uintptr_t top = stackTop();
  // The addon is built with frame pointers: follow them out of our own frames (the hook, the
  // recorder, this function) to the allocator's caller.
  auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  Frame frame{0, here, here};
  do {
    if (!stepFramePointer(frame, top)) return 0;
  } while (isOwnCode(frame.pc));

  // Consecutive frames are mostly in the same object: remember the last one looked up.
  CodeInfo code;
  int depth = 0;
  while (depth < maxDepth) {
    frames[depth++] = frameOrBytecode(frame, top);
    bool stepped;
    if (isFramePointerCode(frame.pc - 1)) {
      stepped = stepFramePointer(frame, top);
    } else {
      if (frame.pc < code.objectStart || frame.pc >= code.objectEnd) code = lookUpCode(frame.pc - 1);
      stepped = code.kind == CodeKind::kUnwindTables ? stepUnwindTables(frame, code.ehFrameHdr, top)
                                                     : stepFramePointer(frame, top);
    }
    if (!stepped) break;
  }
  return depth;
}

}  // namespace allocscope::unwind
