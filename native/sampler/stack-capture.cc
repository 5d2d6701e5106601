// Stack capture for sampled allocations: libgcc's table-driven unwinder, then a bounded frame-pointer walk.
#include "sampler/stack-capture.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <unwind.h>

namespace allocscope::sampler {

namespace {

uintptr_t s_selfStart = 0;
uintptr_t s_selfEnd = 0;

struct UnwindState {
  uintptr_t* frames;
  int maxDepth;
  int depth;
  uintptr_t lastFramePointer;  // rbp in the last frame the tables could describe
  uintptr_t lastCfa;
};

bool isOwnCode(uintptr_t pc) { return pc >= s_selfStart && pc < s_selfEnd; }

_Unwind_Reason_Code onFrame(struct _Unwind_Context* context, void* data) {
  auto* state = static_cast<UnwindState*>(data);
  uintptr_t pc = _Unwind_GetIP(context);
  if (pc == 0) return _URC_END_OF_STACK;
  state->lastFramePointer = _Unwind_GetGR(context, 6);  // DWARF register 6 is rbp on x86-64
  state->lastCfa = _Unwind_GetCFA(context);
  if (isOwnCode(pc)) return _URC_NO_REASON;  // the hook's own frames
  if (state->depth >= state->maxDepth) return _URC_END_OF_STACK;
  state->frames[state->depth++] = pc;
  return _URC_NO_REASON;
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
thread_local uintptr_t t_stackTop __attribute__((tls_model("initial-exec"))) = 0;

uintptr_t stackTop() {
  if (t_stackTop == 0) {
    pthread_attr_t attributes;
    void* low = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) {
      pthread_attr_getstack(&attributes, &low, &size);
      pthread_attr_destroy(&attributes);
    }
    t_stackTop = reinterpret_cast<uintptr_t>(low) + size;
  }
  return t_stackTop;
}

}  // namespace

void initStackCapture() {
  if (s_selfEnd == 0) dl_iterate_phdr(&findSelf, nullptr);
  uintptr_t warmUp[4];
  captureStack(warmUp, 4);
}

int captureStack(uintptr_t* frames, int maxDepth) {
  UnwindState state{frames, maxDepth, 0, 0, 0};
  _Unwind_Backtrace(&onFrame, &state);
  // Continue along the frame-pointer chain where the tables ended (JIT code), staying inside
  // this thread's stack and moving strictly upwards, so a garbage rbp stops the walk, not us.
  uintptr_t top = stackTop();
  uintptr_t framePointer = state.lastFramePointer;
  uintptr_t floor = state.lastCfa;
  while (state.depth < maxDepth && framePointer >= floor && framePointer + 16 <= top && (framePointer & 7) == 0) {
    auto* frame = reinterpret_cast<const uintptr_t*>(framePointer);
    uintptr_t returnAddress = frame[1];
    uintptr_t next = frame[0];
    if (returnAddress < 4096) break;
    if (state.depth == 0 || frames[state.depth - 1] != returnAddress) frames[state.depth++] = returnAddress;
    if (next <= framePointer) break;
    floor = framePointer + 16;
    framePointer = next;
  }
  return state.depth;
}

}  // namespace allocscope::sampler
