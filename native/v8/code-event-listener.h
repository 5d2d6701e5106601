// Feeds one isolate's JIT code events into the process-wide JsCodeMap.
#pragma once

#include <cstdint>

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
  void Handle(v8::CodeEvent* event) override;

 private:
  v8::Isolate* d_isolate;
  bool d_enabled = false;
  // The isolate's JIT code range, registered with the stack walk while listening. Only code in
  // it is named: V8 also reports functions whose code is a builtin in Node's binary (the shared
  // interpreter entry of functions compiled before naming began), and one name for all of them
  // would be wrong for all but one.
  uintptr_t d_codeRangeStart = 0;
  uintptr_t d_codeRangeEnd = 0;
};

// namesInterpretedFrames asks V8 to give every function compiled from now on its own copy of
// the interpreter's entry code, so that interpreted JS frames are told apart in native stacks
// (--interpreted-frames-native-stack). Functions compiled before keep sharing one.
void nameInterpretedFrames();

}  // namespace allocscope::v8frames
