// Feeds one isolate's JIT code events into the process-wide JsCodeMap.
#pragma once

#include <cstdint>
#include <vector>

#include <v8-profiler.h>
#include <v8.h>

namespace allocscope::v8frames {

// CodeEventListener listens on the isolate it was made for, from enable() until it is
// destroyed. V8 reports the code that exists when it starts listening, then each new and moved
// code object, on the isolate's thread.
class CodeEventListener : public v8::CodeEventHandler {
 public:
  explicit CodeEventListener(v8::Isolate* isolate);
  ~CodeEventListener() override;  // stops listening and forgets the isolate's code

  void enable();
  // True once V8 reported its interpreter entry code: interpreted frames are then named from
  // their bytecode (unwind/interpreted-frames.h). Known when enable() returns.
  bool namesInterpretedFrames() const { return !d_interpreterEntries.empty(); }
  void Handle(v8::CodeEvent* event) override;

 private:
  void noteBuiltin(v8::CodeEvent* event);

  v8::Isolate* d_isolate;
  bool d_enabled = false;
  // The isolate's JIT code range, registered with the stack walk while listening.
  uintptr_t d_codeRangeStart = 0;
  uintptr_t d_codeRangeEnd = 0;
  // The isolate's builtins. Functions whose code is a builtin (a lazy-compile stub, say) are
  // not named: one name for all of them would be wrong for all but one.
  uintptr_t d_builtinsStart = 0;
  uintptr_t d_builtinsEnd = 0;
  // The starts of the interpreter entry ranges registered with the stack walk.
  std::vector<uintptr_t> d_interpreterEntries;
};

// nameInterpretedFrames asks V8 to give every function compiled from now on its own copy of
// the interpreter's entry code, so that interpreted JS frames are told apart in native stacks
// (--interpreted-frames-native-stack). Functions compiled before keep sharing one. Only for a
// Node whose interpreter entry V8 does not report: the flag costs every function compiled after
// it (a Buffer-heavy service served 30% fewer requests; docs/performance.md).
void nameInterpretedFrames();

}  // namespace allocscope::v8frames
