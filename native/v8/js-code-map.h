// Where V8 put each isolate's JIT code and which JS function it runs: names the JS frames of native stacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "util/private-heap.h"

namespace allocscope::v8frames {

// A JS frame as the heap profile names it: function, script, line and column of the function.
struct JsFrame {
  std::string function;
  std::string script;
  int line = 0;
  int column = 0;
};

// Native stacks hold return addresses. A frame in JS code is replaced, when its stack is first
// aggregated, by a tagged id of its JsFrame: above any user-space address, so nothing else
// (symbolizer, mappings) mistakes it for one.
constexpr uintptr_t kJsFrameTag = uintptr_t{1} << 62;
inline bool isJsFrame(uintptr_t pc) { return (pc & kJsFrameTag) != 0; }

// JsCodeMap is process-wide: V8 gives each isolate its own code space and heap, so the ranges
// of all isolates never overlap. V8's code events fill it on each isolate's thread; the drain
// thread reads it. Never used inside a malloc hook.
//
// It holds two kinds of range. JIT code (baseline, optimized, regular expressions) is found by
// the return addresses of native stacks. Bytecode arrays, the code of interpreted functions,
// live in the JS heap and are found by the bytecode frames the stack walk makes of interpreted
// frames (unwind/interpreted-frames.h); a return address never matches one.
class JsCodeMap {
 public:
  static JsCodeMap& instance();

  // add records JIT code [start, start + size) of `isolate` running `frame`; code it overlaps
  // was collected (V8 reuses the space), so those entries go.
  void add(const void* isolate, uintptr_t start, size_t size, const JsFrame& frame);
  // addBytecode records a bytecode array's bytecodes the same way.
  void addBytecode(const void* isolate, uintptr_t start, size_t size, const JsFrame& frame);
  // move follows code or a bytecode array that the GC moved.
  void move(uintptr_t from, uintptr_t to);
  // removeIsolate forgets an isolate's code when it is torn down (its space will be reused).
  void removeIsolate(const void* isolate);
  // setBeforeChange: `drainPending` runs before each add and move, outside the map's lock, so
  // that stacks sampled before V8 moved or replaced code are named with the code they ran. The
  // drain may then sleep long: no sample waits through a change of the code it names.
  void setBeforeChange(void (*drainPending)());

  // translateStack replaces, in place and under one lock, each return address that JS code
  // holds and each bytecode frame by the tagged id of its JS frame; the others stay. Frames
  // outside the span of all JIT code (Node, libraries) cost a compare. A bytecode frame whose
  // array is not known (it moved after the sample) becomes "(interpreted JS)".
  void translateStack(uintptr_t* frames, size_t count);
  // frame returns the JsFrame of a tagged id (an empty one for an unknown id).
  JsFrame frame(uintptr_t tagged) const;
  // The memory the map uses, roughly (for stats().profilerBytes).
  size_t bytesUsed() const;

 private:
  // Ranges by start address, none overlapping, each naming a frame id.
  class Ranges {
   public:
    void add(const void* isolate, uintptr_t start, uintptr_t end, uint32_t frameId);
    // move returns the moved range's end, or 0 when no range starts at `from`.
    uintptr_t move(uintptr_t from, uintptr_t to);
    void removeIsolate(const void* isolate);
    // find returns the frame id of the range holding `address`, or -1, and marks it used.
    int64_t find(uintptr_t address);
    // forgetUnused drops the ranges no find() has matched since the last forgetUnused, and
    // marks the others unused.
    void forgetUnused();
    size_t size() const { return d_byStart.size(); }

   private:
    struct Range {
      uintptr_t end;
      const void* isolate;
      uint32_t frameId;
      bool used = false;
    };
    // eraseOverlapping drops the ranges that [start, end) overlaps.
    void eraseOverlapping(uintptr_t start, uintptr_t end);
    util::PrivateMap<uintptr_t, Range> d_byStart;
  };

  // A JsFrame as the map keeps it: on the private heap, like every entry (see util/private-heap.h).
  struct StoredFrame {
    util::PrivateString function;
    util::PrivateString script;
    int line;
    int column;
  };

  void beforeChange() const;
  uint32_t internLocked(const JsFrame& frame);
  uintptr_t translateLocked(uintptr_t pc);
  void widenSpanLocked(uintptr_t start, uintptr_t end);

  std::atomic<void (*)()> d_beforeChange{nullptr};
  mutable std::mutex d_mutex;
  Ranges d_code;
  // V8 reports no bytecode array's death, and a collected array's space may be reused by other
  // objects only: an entry goes when new bytecode overlaps it, or when the map holds
  // kMaxBytecodeRanges and it has not named a frame since the last such pruning (a program that
  // compiles new functions all the time, new Function per request, would otherwise grow it
  // without bound). A live function pruned before its first sample is named "(interpreted JS)".
  static constexpr size_t kMaxBytecodeRanges = 128 * 1024;
  Ranges d_bytecode;
  // Every JIT code range lies in [d_spanStart, d_spanEnd) (widened as code comes, never narrowed).
  uintptr_t d_spanStart = UINTPTR_MAX;
  uintptr_t d_spanEnd = 0;
  util::PrivateVector<StoredFrame> d_frames;
  size_t d_frameBytes = 0;  // the strings of d_frames and of their keys
  util::PrivateHashMap<util::PrivateString, uint32_t, util::StringHash> d_frameIds;  // key: function, script, line, column
};

}  // namespace allocscope::v8frames
