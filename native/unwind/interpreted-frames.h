// Interpreted JS frames in native stacks: which function each one runs, read from the frame as V8's own sampler does.
#pragma once

#include <cstdint>

namespace allocscope::unwind {

// Every interpreted JS function runs V8's one interpreter entry builtin, so the return address
// into its frame says nothing about the function. The frame itself does: V8 keeps the function's
// bytecode array and the current bytecode offset in two slots below the frame pointer. A stack
// walk replaces such a frame's return address by the address of its current bytecode, tagged
// with kBytecodeTag (above any user-space address, below the JS frame tag). The bytecode array
// lives in the JS heap, and V8's code events name it (v8/js-code-map.h).
//
// This costs V8 nothing, where --interpreted-frames-native-stack (a copy of the entry builtin
// per function) made a Buffer-heavy service 30% slower.
constexpr uintptr_t kBytecodeTag = uintptr_t{1} << 61;
inline bool isBytecodeFrame(uintptr_t frame) { return (frame & kBytecodeTag) != 0; }
inline uintptr_t bytecodeAddress(uintptr_t frame) { return frame & ~kBytecodeTag; }

// The interpreter's entry code of each isolate (V8 reports it among its builtins; isolates that
// remap builtins near their JIT code each have a copy). Registered outside the hooks.
void addInterpreterEntry(uintptr_t start, uintptr_t end);
void removeInterpreterEntry(uintptr_t start);
bool isInterpreterEntry(uintptr_t pc);

// Offsets of the two slots from an interpreted frame's frame pointer (x64: V8's
// InterpreterFrameConstants, after the context, function and argument count).
constexpr intptr_t kBytecodeArrayFromFp = -32;
constexpr intptr_t kBytecodeOffsetFromFp = -40;

// bytecodeFrame returns the tagged frame for the slots' values, or 0 when they do not hold a
// bytecode array (a tagged heap pointer) and an offset (a small integer) inside it. Nothing is
// dereferenced: the array may be moving.
uintptr_t bytecodeFrame(uintptr_t bytecodeArraySlot, uintptr_t bytecodeOffsetSlot);

}  // namespace allocscope::unwind
