// Unit tests of native/unwind: stacks through code without frame pointers (a library built like a
// distro's, which scrambles rbp) come out whole, objects are told apart by their unwind tables,
// and tables that are not there or not valid stop the walk instead of misleading it.
#include <dlfcn.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tap.h"
#include "unwind/code-kinds.h"
#include "unwind/eh-frame.h"
#include "unwind/stack-capture.h"

using allocscope::unwind::captureStack;
using allocscope::unwind::CodeKind;
using allocscope::unwind::FrameRule;
using allocscope::unwind::findFrameRule;
using allocscope::unwind::initStackCapture;
using allocscope::unwind::keepsFramePointers;
using allocscope::unwind::lookUpCode;

extern "C" {
typedef uintptr_t (*Callback)(void* argument);
uintptr_t nfp_level3(Callback callback, void* argument);  // test/native/no-frame-pointers.c
}

namespace {

struct Captured {
  uintptr_t frames[64];
  int depth = 0;
};

uintptr_t captureInto(void* argument) {
  auto* captured = static_cast<Captured*>(argument);
  captured->depth = captureStack(captured->frames, 64);
  return 0;
}

// Exported (the test links with -rdynamic) so that dladdr names it.
extern "C" __attribute__((noinline)) uintptr_t unwind_test_caller(Captured* captured) {
  uintptr_t result = nfp_level3(&captureInto, captured);
  __asm__ volatile("" ::: "memory");  // keeps the call from becoming a tail call
  return result;
}

std::string nameOf(uintptr_t pc) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_sname == nullptr) return "?";
  return info.dli_sname;
}

const void* ehFrameHdrOf(const void* code) {
  dl_find_object object;
  if (_dl_find_object(const_cast<void*>(code), &object) != 0) return nullptr;
  return object.dlfo_eh_frame;
}

TEST("captureStack unwinds through a library without frame pointers into the frame-pointer caller") {
  REQUIRE(initStackCapture());
  Captured captured;
  unwind_test_caller(&captured);
  std::vector<std::string> names;
  for (int i = 0; i < captured.depth; ++i) names.push_back(nameOf(captured.frames[i]));
  std::string joined;
  for (const auto& name : names) joined += name + " < ";
  tap::note("stack: %s", joined.c_str());
  // The test's own frames (captureInto) are the profiler's here: they are skipped.
  REQUIRE(names.size() >= 5);
  CHECK_EQ(names[0], std::string("nfp_level1"));
  CHECK_EQ(names[1], std::string("nfp_level2"));
  CHECK_EQ(names[2], std::string("nfp_level3"));
  CHECK_EQ(names[3], std::string("unwind_test_caller"));
  // Past the caller the walk goes on along frame pointers, up to main.
  bool reachedMain = false;
  for (const auto& name : names) reachedMain = reachedMain || name == "main";
  CHECK(reachedMain);
}

TEST("the library's unwind tables say it has no frame pointers; the test's own say it has") {
  const void* library = ehFrameHdrOf(reinterpret_cast<const void*>(&nfp_level3));
  const void* self = ehFrameHdrOf(reinterpret_cast<const void*>(&unwind_test_caller));
  REQUIRE(library != nullptr);
  REQUIRE(self != nullptr);
  CHECK(!keepsFramePointers(library));
  CHECK(keepsFramePointers(self));
  CHECK(lookUpCode(reinterpret_cast<uintptr_t>(&nfp_level3)).kind == CodeKind::kUnwindTables);
  CHECK(lookUpCode(reinterpret_cast<uintptr_t>(&unwind_test_caller)).kind == CodeKind::kFramePointers);
  // Twice: the second answer comes from the cache and must be the same.
  CHECK(lookUpCode(reinterpret_cast<uintptr_t>(&nfp_level3)).kind == CodeKind::kUnwindTables);
  // Memory mapped outside any object, where V8 puts its JIT code, is taken to keep frame pointers.
  void* page = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(page != MAP_FAILED);
  CHECK(lookUpCode(reinterpret_cast<uintptr_t>(page) + 16).kind == CodeKind::kNotInObject);
  munmap(page, 4096);
}

TEST("findFrameRule gives the row at each instruction of a function without frame pointers") {
  const void* library = ehFrameHdrOf(reinterpret_cast<const void*>(&nfp_level3));
  REQUIRE(library != nullptr);
  auto start = reinterpret_cast<uintptr_t>(&nfp_level3);
  FrameRule atEntry;
  REQUIRE(findFrameRule(library, start, atEntry));
  CHECK_EQ(atEntry.cfaRegister, allocscope::unwind::kRegisterStackPointer);
  CHECK_EQ(atEntry.cfaOffset, 8);
  CHECK(atEntry.returnAddress.kind == allocscope::unwind::SavedRegister::Kind::kAtCfaOffset);
  CHECK_EQ(atEntry.returnAddress.offset, -8);
  // After `push %rbp` (one byte): CFA = rsp + 16, the caller's rbp saved at CFA - 16.
  FrameRule afterPush;
  REQUIRE(findFrameRule(library, start + 1, afterPush));
  CHECK_EQ(afterPush.cfaOffset, 16);
  CHECK(afterPush.framePointer.kind == allocscope::unwind::SavedRegister::Kind::kAtCfaOffset);
  CHECK_EQ(afterPush.framePointer.offset, -16);
}

TEST("findFrameRule answers no, without reading past the tables, for addresses and headers it cannot serve") {
  const void* library = ehFrameHdrOf(reinterpret_cast<const void*>(&nfp_level3));
  REQUIRE(library != nullptr);
  FrameRule rule;
  CHECK(!findFrameRule(library, 16, rule));  // below the first function
  CHECK(!findFrameRule(library, UINTPTR_MAX - 16, rule));  // past the last one's end
  uint8_t wrongVersion[16] = {2, 0x1b, 0x03, 0x3b};
  CHECK(!findFrameRule(wrongVersion, 100, rule));
  uint8_t unknownTableEncoding[16] = {1, 0x1b, 0x03, 0x03};
  CHECK(!findFrameRule(unknownTableEncoding, 100, rule));
  CHECK(!keepsFramePointers(wrongVersion));
  uint8_t emptyTable[16] = {1, 0x1b, 0x03, 0x3b, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(!findFrameRule(emptyTable, 100, rule));
  CHECK(!keepsFramePointers(emptyTable));
  CHECK(!findFrameRule(nullptr, 100, rule));
}

}  // namespace

TAP_MAIN()
