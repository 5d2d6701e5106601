// Unit tests of native/v8/js-code-map.cc: JIT code and bytecode ranges to JS frames, through moves,
// reuse of code space, isolate teardown, and concurrent readers and writers.
#include "v8/js-code-map.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tap.h"
#include "unwind/interpreted-frames.h"

using allocscope::v8frames::isJsFrame;
using allocscope::v8frames::JsCodeMap;
using allocscope::v8frames::JsFrame;

namespace {

const void* const kIsolateA = reinterpret_cast<const void*>(0x1000);
const void* const kIsolateB = reinterpret_cast<const void*>(0x2000);

JsFrame frame(const char* name, int line) { return {name, "/app/server.js", line, 3}; }

// translate runs translateStack on a one-frame stack.
uintptr_t translate(uintptr_t pc) {
  JsCodeMap::instance().translateStack(&pc, 1);
  return pc;
}

// nameAt translates a return address and names the frame ("" when it is not JS code).
std::string nameAt(uintptr_t pc) {
  uintptr_t translated = translate(pc);
  if (!isJsFrame(translated)) return "";
  return JsCodeMap::instance().frame(translated).function;
}

}  // namespace

TEST("translate names return addresses inside code, and leaves others as they are") {
  auto& map = JsCodeMap::instance();
  map.add(kIsolateA, 0x10000, 0x100, frame("handleRequest", 10));
  CHECK_EQ(nameAt(0x10001), std::string("handleRequest"));
  CHECK_EQ(nameAt(0x10100), std::string("handleRequest"));  // a call that ends the code: pc - 1 is inside
  CHECK_EQ(nameAt(0x10101), std::string(""));
  CHECK_EQ(nameAt(0x10000), std::string(""));  // pc - 1 is before it
  CHECK_EQ(translate(0x5000), uintptr_t{0x5000});
  JsFrame named = map.frame(translate(0x10050));
  CHECK_EQ(named.script, std::string("/app/server.js"));
  CHECK_EQ(named.line, 10);
  CHECK_EQ(named.column, 3);
  // The same function's code twice (say, interpreted and optimized) is one JS frame.
  map.add(kIsolateA, 0x20000, 0x80, frame("handleRequest", 10));
  CHECK_EQ(translate(0x20010), translate(0x10010));
  map.removeIsolate(kIsolateA);
}

TEST("translateStack names the JS frames of a stack in place and leaves the others") {
  auto& map = JsCodeMap::instance();
  map.add(kIsolateA, 0x70000, 0x100, frame("inner", 7));
  map.add(kIsolateA, 0x70400, 0x100, frame("outer", 8));
  uintptr_t stack[] = {0x401000, 0x70010, 0x402000, 0x70410, 0x70300, 0x7fff0000};
  map.translateStack(stack, 6);
  CHECK_EQ(stack[0], uintptr_t{0x401000});
  CHECK_EQ(map.frame(stack[1]).function, std::string("inner"));
  CHECK_EQ(stack[2], uintptr_t{0x402000});
  CHECK_EQ(map.frame(stack[3]).function, std::string("outer"));
  CHECK_EQ(stack[4], uintptr_t{0x70300});  // inside the span of JS code, in none of it
  CHECK_EQ(stack[5], uintptr_t{0x7fff0000});
  map.removeIsolate(kIsolateA);
}

TEST("bytecode frames are named from bytecode arrays, which return addresses never match") {
  using allocscope::unwind::kBytecodeTag;
  auto& map = JsCodeMap::instance();
  map.addBytecode(kIsolateA, 0x7f0000001027, 0x30, frame("interpreted", 12));
  map.add(kIsolateA, 0x80000, 0x100, frame("optimized", 13));
  uintptr_t stack[] = {0x80010, kBytecodeTag | 0x7f0000001027, kBytecodeTag | 0x7f0000001056, 0x7f0000001030,
                       kBytecodeTag | 0x7f0000001057};
  map.translateStack(stack, 5);
  CHECK_EQ(map.frame(stack[0]).function, std::string("optimized"));
  CHECK_EQ(map.frame(stack[1]).function, std::string("interpreted"));  // the first bytecode
  CHECK_EQ(map.frame(stack[2]).function, std::string("interpreted"));  // the last
  CHECK_EQ(map.frame(stack[2]).line, 12);
  CHECK_EQ(stack[3], uintptr_t{0x7f0000001030});                        // a return address: not looked up
  CHECK_EQ(map.frame(stack[4]).function, std::string("(interpreted JS)"));  // past the array: unknown
  // A moved bytecode array is found at its new place; an isolate's teardown forgets it.
  map.move(0x7f0000001027, 0x7f0000002027);
  CHECK_EQ(nameAt(kBytecodeTag | 0x7f0000002030), std::string("interpreted"));
  CHECK_EQ(nameAt(kBytecodeTag | 0x7f0000001030), std::string("(interpreted JS)"));
  map.removeIsolate(kIsolateA);
  CHECK_EQ(nameAt(kBytecodeTag | 0x7f0000002030), std::string("(interpreted JS)"));
  CHECK_EQ(nameAt(0x80010), std::string(""));
}

TEST("bytecode arrays past the bound are pruned, except those that named a frame") {
  using allocscope::unwind::kBytecodeTag;
  auto& map = JsCodeMap::instance();
  const uintptr_t base = 0x7e0000000000;
  map.addBytecode(kIsolateA, base, 0x40, frame("sampledOnce", 1));
  map.addBytecode(kIsolateA, base + 0x40, 0x40, frame("neverSampled", 2));
  CHECK_EQ(nameAt(kBytecodeTag | (base + 0x10)), std::string("sampledOnce"));
  size_t before = map.bytesUsed();
  // A program compiling new functions all the time: 200,000 arrays, none ever sampled.
  for (uintptr_t i = 2; i < 200000; ++i) map.addBytecode(kIsolateA, base + i * 0x40, 0x40, frame("churn", 3));
  CHECK_EQ(nameAt(kBytecodeTag | (base + 0x10)), std::string("sampledOnce"));
  CHECK_EQ(nameAt(kBytecodeTag | (base + 0x50)), std::string("(interpreted JS)"));
  CHECK(map.bytesUsed() - before < 200000 * 64);  // bounded below what 200,000 entries take
  map.removeIsolate(kIsolateA);
}

TEST("new code over old code replaces it: collected code's space is reused") {
  auto& map = JsCodeMap::instance();
  map.add(kIsolateA, 0x30000, 0x100, frame("oldA", 1));
  map.add(kIsolateA, 0x30100, 0x100, frame("oldB", 2));
  map.add(kIsolateA, 0x30080, 0x100, frame("fresh", 3));  // overlaps the end of oldA and the start of oldB
  CHECK_EQ(nameAt(0x30010), std::string(""));
  CHECK_EQ(nameAt(0x30090), std::string("fresh"));
  CHECK_EQ(nameAt(0x30190), std::string(""));
  map.removeIsolate(kIsolateA);
}

TEST("moved code is found at its new place only; an isolate's teardown forgets its code only") {
  auto& map = JsCodeMap::instance();
  map.add(kIsolateA, 0x40000, 0x100, frame("moving", 4));
  map.add(kIsolateB, 0x50000, 0x100, frame("inWorker", 5));
  map.move(0x40000, 0x48000);
  CHECK_EQ(nameAt(0x40010), std::string(""));
  CHECK_EQ(nameAt(0x48010), std::string("moving"));
  map.move(0x99999, 0x60000);  // unknown code: nothing happens
  CHECK_EQ(nameAt(0x60010), std::string(""));
  map.removeIsolate(kIsolateA);
  CHECK_EQ(nameAt(0x48010), std::string(""));
  CHECK_EQ(nameAt(0x50010), std::string("inWorker"));
  map.removeIsolate(kIsolateB);
  CHECK_EQ(nameAt(0x50010), std::string(""));
  CHECK(map.frame(allocscope::v8frames::kJsFrameTag | 0xffffff).function.empty());  // an unknown id
}

TEST("code events on two isolates' threads while the drain translates (ThreadSanitizer: no races)") {
  auto& map = JsCodeMap::instance();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> named{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      const void* isolate = t == 0 ? kIsolateA : kIsolateB;
      uintptr_t base = 0x1000000 * (t + 1);
      for (int i = 0; i < 20000; ++i) {
        uintptr_t start = base + (i % 500) * 0x100;
        map.add(isolate, start, 0x100, frame(t == 0 ? "mainFunction" : "workerFunction", i % 50));
        if (i % 7 == 0) map.move(start, start + 0x80000);
      }
    });
  }
  // The pass after seeing `stop` runs once the writers have joined, so even a drain that the
  // scheduler starts late scans a filled map.
  std::thread drain([&] {
    for (bool last = false; !last;) {
      last = stop.load();
      for (uintptr_t pc = 0x1000010; pc < 0x1030000; pc += 0x300) {
        uintptr_t translated = translate(pc);
        if (isJsFrame(translated) && !map.frame(translated).function.empty()) ++named;
      }
    }
  });
  for (auto& thread : threads) thread.join();
  stop = true;
  drain.join();
  tap::note("%llu frames named while code was added and moved", static_cast<unsigned long long>(named.load()));
  CHECK_GT(named.load(), uint64_t{0});
  map.removeIsolate(kIsolateA);
  map.removeIsolate(kIsolateB);
}

TAP_MAIN()

namespace {

// What the before-change callback saw the map name at a fixed address: the change's "before".
std::string g_seenBeforeChange;
int g_beforeChangeCalls = 0;

void noteNameBeforeChange() {
  ++g_beforeChangeCalls;
  g_seenBeforeChange = nameAt(0xA0010);  // takes the map's lock: this must run outside it
}

}  // namespace

TEST("the before-change callback runs outside the map's lock, before each add and move, seeing the old code") {
  auto& map = JsCodeMap::instance();
  map.add(kIsolateA, 0xA0000, 0x100, frame("beforeTheMove", 1));
  map.setBeforeChange(&noteNameBeforeChange);
  map.move(0xA0000, 0xB0000);
  CHECK_EQ(g_beforeChangeCalls, 1);
  CHECK_EQ(g_seenBeforeChange, std::string("beforeTheMove"));  // named as the sample's code was
  CHECK_EQ(nameAt(0xA0010), std::string(""));                  // the move is applied after it
  map.add(kIsolateA, 0xA0000, 0x100, frame("newCodeInTheSpace", 2));
  CHECK_EQ(g_beforeChangeCalls, 2);
  CHECK_EQ(g_seenBeforeChange, std::string(""));
  map.addBytecode(kIsolateA, 0xC0000, 0x40, frame("interpreted", 3));
  CHECK_EQ(g_beforeChangeCalls, 3);
  CHECK_EQ(g_seenBeforeChange, std::string("newCodeInTheSpace"));
  map.setBeforeChange(nullptr);
  map.move(0xB0000, 0xD0000);
  CHECK_EQ(g_beforeChangeCalls, 3);
  map.removeIsolate(kIsolateA);
}
