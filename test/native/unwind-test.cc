// Unit tests of native/unwind: stacks through code without frame pointers (a library built like a
// distro's, which scrambles rbp) come out whole, objects are told apart by their unwind tables,
// and tables that are not there or not valid stop the walk instead of misleading it.
#include <dlfcn.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tap.h"
#include "unwind/code-kinds.h"
#include "unwind/eh-frame.h"
#include "unwind/interpreted-frames.h"
#include "unwind/rule-cache.h"
#include "unwind/stack-capture.h"

using allocscope::unwind::captureStack;
using allocscope::unwind::CodeKind;
using allocscope::unwind::FrameRule;
using allocscope::unwind::findFrameRule;
using allocscope::unwind::initStackCapture;
using allocscope::unwind::keepsFramePointers;
using allocscope::unwind::lookUpCode;
using allocscope::unwind::RuleCache;

extern "C" {
typedef uintptr_t (*Callback)(void* argument);
uintptr_t nfp_level3(Callback callback, void* argument);  // test/native/no-frame-pointers.c

// A stand-in for an interpreted JS frame: a frame-pointer frame holding `bytecodeArray` and
// `bytecodeOffset` where V8's interpreter keeps them, that calls level3(callback, argument).
uintptr_t fake_interpreted_frame(uintptr_t bytecodeArray, uintptr_t bytecodeOffset, Callback callback, void* argument,
                                 uintptr_t (*level3)(Callback, void*));
extern const char fake_interpreted_frame_end[];
}

// x86-64 System V: the five arguments in rdi, rsi, rdx, rcx, r8.
asm(R"(
  .text
  .globl fake_interpreted_frame
  .type fake_interpreted_frame, @function
fake_interpreted_frame:
  push %rbp
  mov %rsp, %rbp
  sub $48, %rsp
  mov %rdi, -32(%rbp)
  mov %rsi, -40(%rbp)
  mov %rdx, %rdi
  mov %rcx, %rsi
  call *%r8
  leave
  ret
  .globl fake_interpreted_frame_end
fake_interpreted_frame_end:
  .size fake_interpreted_frame, . - fake_interpreted_frame
)");

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

TEST("registered frame-pointer code is known without the loader, until it is removed") {
  using allocscope::unwind::addFramePointerCode;
  using allocscope::unwind::isFramePointerCode;
  using allocscope::unwind::removeFramePointerCode;
  CHECK(!isFramePointerCode(0x7000100));
  addFramePointerCode(0x7000000, 0x7001000);
  addFramePointerCode(0x7000000, 0x7001000);  // a code range two isolates share
  CHECK(isFramePointerCode(0x7000000));
  CHECK(isFramePointerCode(0x7000fff));
  CHECK(!isFramePointerCode(0x7001000));
  removeFramePointerCode(0x7000000);
  CHECK(isFramePointerCode(0x7000100));  // still registered once
  removeFramePointerCode(0x7000000);
  CHECK(!isFramePointerCode(0x7000100));
}

TEST("ranges far apart: addresses between, below and above them are in none, before and after removal") {
  using allocscope::unwind::addFramePointerCode;
  using allocscope::unwind::isFramePointerCode;
  using allocscope::unwind::removeFramePointerCode;
  addFramePointerCode(0x9000000, 0x9001000);
  addFramePointerCode(0x9f00000, 0x9f01000);
  CHECK(isFramePointerCode(0x9000800));
  CHECK(isFramePointerCode(0x9f00800));
  CHECK(!isFramePointerCode(0x9500000));  // inside the ranges' bounds, in neither range
  CHECK(!isFramePointerCode(0x8fff000));
  CHECK(!isFramePointerCode(0x9f01000));
  removeFramePointerCode(0x9000000);
  CHECK(!isFramePointerCode(0x9000800));  // the bounds stay wide; the scan still says no
  CHECK(isFramePointerCode(0x9f00800));
  removeFramePointerCode(0x9f00000);
  CHECK(!isFramePointerCode(0x9f00800));
}

TEST("an interpreted frame is replaced by its tagged bytecode position; other frames in the entry code are not") {
  using allocscope::unwind::addInterpreterEntry;
  using allocscope::unwind::kBytecodeTag;
  using allocscope::unwind::removeInterpreterEntry;
  REQUIRE(initStackCapture());
  auto entryStart = reinterpret_cast<uintptr_t>(&fake_interpreted_frame);
  auto entryEnd = reinterpret_cast<uintptr_t>(fake_interpreted_frame_end);
  addInterpreterEntry(entryStart, entryEnd);
  const uintptr_t array = 0x12345601;                // a tagged heap pointer
  const uintptr_t offset = uintptr_t{0x40} << 32;    // the Smi 0x40 (no pointer compression)
  // capture runs the fake frame over the library's three frames, and returns its frame 3.
  auto capture = [&](uintptr_t arraySlot, uintptr_t offsetSlot) {
    Captured captured;
    fake_interpreted_frame(arraySlot, offsetSlot, &captureInto, &captured, &nfp_level3);
    REQUIRE(captured.depth >= 5);
    CHECK_EQ(nameOf(captured.frames[2]), std::string("nfp_level3"));
    return captured.frames[3];
  };
  CHECK_EQ(capture(array, offset), kBytecodeTag | (array + 0x40));
  // Slots that are not a bytecode array and an offset leave the return address.
  uintptr_t kept = capture(array, offset | 1);
  CHECK(kept > entryStart && kept <= entryEnd);
  kept = capture(array + 1, offset);
  CHECK(kept > entryStart && kept <= entryEnd);
  removeInterpreterEntry(entryStart);
  kept = capture(array, offset);
  CHECK(kept > entryStart && kept <= entryEnd);
}

TEST("bytecodeFrame decodes V8's slots and refuses what cannot be a bytecode position") {
  using allocscope::unwind::bytecodeAddress;
  using allocscope::unwind::bytecodeFrame;
  using allocscope::unwind::isBytecodeFrame;
  uintptr_t frame = bytecodeFrame(0x7f0000001001, uintptr_t{38} << 32);
  CHECK(isBytecodeFrame(frame));
  CHECK_EQ(bytecodeAddress(frame), uintptr_t{0x7f0000001027});
  CHECK_EQ(bytecodeFrame(0x7f0000001000, uintptr_t{38} << 32), uintptr_t{0});  // a Smi, not a pointer
  CHECK_EQ(bytecodeFrame(0x7f0000001003, uintptr_t{38} << 32), uintptr_t{0});  // a weak pointer
  CHECK_EQ(bytecodeFrame(0x7f0000001001, 0), uintptr_t{0});                     // offset 0: inside the header
  CHECK_EQ(bytecodeFrame(0x7f0000001001, uintptr_t(-5) << 32), uintptr_t{0});   // negative
  CHECK_EQ(bytecodeFrame(0x7f0000001001, uintptr_t{1} << 62), uintptr_t{0});    // far past any array
  CHECK(!isBytecodeFrame(0x7f0000001001));
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

// A row derived from the address, so that a row mixed from two writers is detectable.
FrameRule ruleFor(uintptr_t pc) {
  FrameRule rule;
  rule.cfaOffset = static_cast<int64_t>(8 + (pc % 4096) * 8);
  rule.framePointer = {allocscope::unwind::SavedRegister::Kind::kAtCfaOffset, -static_cast<int32_t>(16 + pc % 64)};
  rule.returnAddress = {allocscope::unwind::SavedRegister::Kind::kAtCfaOffset, -8};
  rule.cfaRegister = pc % 3 == 0 ? allocscope::unwind::kRegisterFramePointer : allocscope::unwind::kRegisterStackPointer;
  return rule;
}

TEST("RuleCache returns what was stored, and never a row torn between writers (4 writers, 4 readers)") {
  FrameRule one = ruleFor(0x401234);
  RuleCache::store(0x401234, one);
  FrameRule found;
  REQUIRE(RuleCache::find(0x401234, found));
  CHECK_EQ(found.cfaOffset, one.cfaOffset);
  CHECK_EQ(found.framePointer.offset, one.framePointer.offset);
  CHECK_EQ(found.cfaRegister, one.cfaRegister);
  CHECK(!RuleCache::find(0x401235, found));
  RuleCache::clear();
  CHECK(!RuleCache::find(0x401234, found));
  // Rows whose CFA comes from an expression are never cached.
  FrameRule expression = one;
  expression.cfaIsExpression = true;
  RuleCache::store(0x401234, expression);
  CHECK(!RuleCache::find(0x401234, found));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> hits{0}, torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {  // writers: many addresses, colliding in the cache's entries
      for (uint64_t i = 0; i < 200000; ++i) {
        uintptr_t pc = 0x500000 + ((i * 7919 + t * 104729) % 50000) * 16;
        RuleCache::store(pc, ruleFor(pc));
      }
    });
    threads.emplace_back([&, t] {  // readers: a hit must be exactly the row of that address
      uint64_t localHits = 0, localTorn = 0;
      // At least one sweep of the 50000 addresses, so a reader the scheduler starts late still reads.
      for (uint64_t i = 0; i < 50000 || !stop.load(std::memory_order_relaxed); ++i) {
        uintptr_t pc = 0x500000 + ((i * 104729 + t * 7919) % 50000) * 16;
        FrameRule rule;
        if (!RuleCache::find(pc, rule)) continue;
        ++localHits;
        FrameRule expected = ruleFor(pc);
        if (rule.cfaOffset != expected.cfaOffset || rule.framePointer.offset != expected.framePointer.offset ||
            rule.cfaRegister != expected.cfaRegister) {
          ++localTorn;
        }
      }
      hits += localHits;
      torn += localTorn;
    });
  }
  for (size_t i = 0; i < threads.size(); i += 2) threads[i].join();
  stop = true;
  for (size_t i = 1; i < threads.size(); i += 2) threads[i].join();
  tap::note("%llu cache hits while writing, %llu torn", static_cast<unsigned long long>(hits.load()),
            static_cast<unsigned long long>(torn.load()));
  CHECK_GT(hits.load(), uint64_t{0});
  CHECK_EQ(torn.load(), uint64_t{0});
}

}  // namespace

TAP_MAIN()
