// Flattens V8's AllocationProfile tree into typed arrays so that JS never walks a tree of objects.
#pragma once

#include <napi.h>
#include <v8-profiler.h>

namespace allocscope::v8heap {

// Returns { strings, nodeParent, nodeName, nodeFile, nodeLine, nodeColumn, nodeScriptId,
//           allocationNode, allocationSizeBytes, allocationCount }.
// Node i's parent is nodeParent[i] (-1 for V8's root), and parents come before children.
// Names and files are indexes into strings, where index 0 is the empty string.
// Allocation j is allocationCount[j] objects of allocationSizeBytes[j] bytes at node
// allocationNode[j]; counts are already scaled up by V8 to estimate all allocations.
Napi::Value translateHeapProfile(Napi::Env env, v8::Isolate* isolate,
                                 v8::AllocationProfile& profile);

}  // namespace allocscope::v8heap
