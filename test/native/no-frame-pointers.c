/* A stand-in for a distro library in the unwind test: built -O2 -fomit-frame-pointer, and each
   level puts garbage in rbp while it calls down, so only its unwind tables lead back out. */
#include <stdint.h>

typedef uintptr_t (*Callback)(void* argument);

/* The asm leaves rbp holding garbage until the function returns; the compiler saves the caller's
   rbp in the prologue (and says where in .eh_frame) because the asm clobbers it. */
#define SCRAMBLE_FRAME_POINTER() __asm__ volatile("movq $0x5eed, %%rbp" ::: "rbp")

__attribute__((noinline)) uintptr_t nfp_level1(Callback callback, void* argument) {
  SCRAMBLE_FRAME_POINTER();
  return callback(argument) + 1;
}

__attribute__((noinline)) uintptr_t nfp_level2(Callback callback, void* argument) {
  SCRAMBLE_FRAME_POINTER();
  return nfp_level1(callback, argument) + 1;
}

__attribute__((noinline)) uintptr_t nfp_level3(Callback callback, void* argument) {
  SCRAMBLE_FRAME_POINTER();
  return nfp_level2(callback, argument) + 1;
}
