// CodeEventListener: V8 code creation and move events to JsCodeMap entries.
#include "v8/code-event-listener.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "sampler/thread-state.h"
#include "unwind/code-kinds.h"
#include "unwind/interpreted-frames.h"
#include "v8/js-code-map.h"

namespace allocscope::v8frames {

namespace {

std::string toString(v8::Isolate* isolate, v8::Local<v8::String> value) {
  if (value.IsEmpty()) return "";
  v8::String::Utf8Value utf8(isolate, value);
  return *utf8 == nullptr ? "" : std::string(*utf8, utf8.length());
}

// The builtins an interpreted frame's return address can be in: the entry, and the two that
// resume a frame V8 deoptimized or replaced.
bool isInterpreterEntryBuiltin(const char* builtin) {
  constexpr std::string_view kEntries[] = {"InterpreterEntryTrampoline", "InterpreterEnterAtBytecode",
                                           "InterpreterEnterAtNextBytecode"};
  if (builtin == nullptr) return false;
  return std::find(std::begin(kEntries), std::end(kEntries), builtin) != std::end(kEntries);
}

bool inRange(uintptr_t address, uintptr_t start, uintptr_t end) { return address >= start && address < end; }

}  // namespace

CodeEventListener::CodeEventListener(v8::Isolate* isolate) : v8::CodeEventHandler(isolate), d_isolate(isolate) {}

CodeEventListener::~CodeEventListener() {
  if (d_enabled) Disable();
  if (d_codeRangeStart != 0) unwind::removeFramePointerCode(d_codeRangeStart);
  for (uintptr_t start : d_interpreterEntries) unwind::removeInterpreterEntry(start);
  JsCodeMap::instance().removeIsolate(d_isolate);
}

void CodeEventListener::enable() {
  if (d_enabled) return;
  d_enabled = true;
  // V8's JIT code keeps frame pointers; stack walks need not ask the loader about it.
  void* start = nullptr;
  size_t length = 0;
  d_isolate->GetCodeRange(&start, &length);
  if (start != nullptr && length != 0) {
    d_codeRangeStart = reinterpret_cast<uintptr_t>(start);
    d_codeRangeEnd = d_codeRangeStart + length;
    unwind::addFramePointerCode(d_codeRangeStart, d_codeRangeEnd);
  }
  const void* builtins = nullptr;
  size_t builtinsLength = 0;
  d_isolate->GetEmbeddedCodeRange(&builtins, &builtinsLength);
  d_builtinsStart = reinterpret_cast<uintptr_t>(builtins);
  d_builtinsEnd = d_builtinsStart + builtinsLength;
  Enable();  // reports the existing code, builtins first, before it returns
}

void CodeEventListener::noteBuiltin(v8::CodeEvent* event) {
  if (!isInterpreterEntryBuiltin(event->GetComment())) return;
  uintptr_t start = event->GetCodeStartAddress();
  if (start == 0 || event->GetCodeSize() == 0) return;
  if (std::find(d_interpreterEntries.begin(), d_interpreterEntries.end(), start) != d_interpreterEntries.end()) return;
  unwind::addInterpreterEntry(start, start + event->GetCodeSize());
  d_interpreterEntries.push_back(start);
}

void CodeEventListener::Handle(v8::CodeEvent* event) {
  sampler::ScopedBusy busy;  // the map's own allocations are not the application's
  auto& map = JsCodeMap::instance();
  switch (event->GetCodeType()) {
    case v8::kRelocationType:
      map.move(event->GetPreviousCodeStartAddress(), event->GetCodeStartAddress());
      return;
    case v8::kBuiltinType:
      noteBuiltin(event);
      return;
    // Code of JS functions at every tier, and the code V8 makes for scripts, eval and regular
    // expressions. Builtins and bytecode handlers live in Node's binary, which has symbols.
    case v8::kFunctionType:
    case v8::kInterpretedFunctionType:
    case v8::kScriptType:
    case v8::kEvalType:
    case v8::kRegExpType:
      break;
    default:
      return;
  }
  uintptr_t start = event->GetCodeStartAddress();
  if (inRange(start, d_builtinsStart, d_builtinsEnd)) return;
  // Outside the JIT code range, the code of a function is its bytecode array, in the JS heap.
  bool jitCode = inRange(start, d_codeRangeStart, d_codeRangeEnd);
  v8::HandleScope scope(d_isolate);
  JsFrame frame;
  frame.function = toString(d_isolate, event->GetFunctionName());
  frame.script = toString(d_isolate, event->GetScriptName());
  frame.line = event->GetScriptLine();
  frame.column = event->GetScriptColumn();
  if (event->GetCodeType() == v8::kRegExpType && frame.function.empty()) frame.function = "(regexp)";
  if (jitCode) {
    map.add(d_isolate, start, event->GetCodeSize(), std::move(frame));
  } else {
    map.addBytecode(d_isolate, start, event->GetCodeSize(), std::move(frame));
  }
}

void nameInterpretedFrames() {
  static const char kFlag[] = "--interpreted-frames-native-stack";
  v8::V8::SetFlagsFromString(kFlag, sizeof(kFlag) - 1);
}

}  // namespace allocscope::v8frames
