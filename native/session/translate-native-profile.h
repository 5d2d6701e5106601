// Turns a native snapshot into flat arrays for JS, with each distinct program counter symbolized once.
#pragma once

#include <napi.h>

#include "aggregate/aggregator.h"

namespace allocscope::session {

// Returns { objects: [{path, start, limit, fileOffset, buildId}], strings, pcs (Float64Array),
//           pcObject (Int32Array, -1 outside any object), pcFunction (Int32Array into strings),
//           stackOffsets (Int32Array, n + 1), stackPcs (Int32Array into pcs, leaf first),
//           allocObjects, allocBytes, inuseObjects, inuseBytes (Float64Array, one per stack) }.
Napi::Value translateNativeProfile(Napi::Env env, const aggregate::AggregateSnapshot& snapshot);

// warmSymbolizer reads the symbol tables of the loaded objects now, off the JS thread (the drain
// thread calls it as it starts), so that the first profile does not block the event loop for it.
void warmSymbolizer();

}  // namespace allocscope::session
