// Converts V8's AllocationProfile into the flat node and allocation tables described in the header.
#include "v8/translate-heap-profile.h"

#include "util/string-table.h"
#include "util/typed-arrays.h"

#include <v8.h>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace allocscope::v8heap {

namespace {

// V8 strings are interned after conversion to UTF-8 (empty handles count as "").
int32_t internV8(util::StringTable& strings, v8::Isolate* isolate, v8::Local<v8::String> text) {
  if (text.IsEmpty() || text->Length() == 0) return 0;
  v8::String::Utf8Value utf8(isolate, text);
  return strings.intern(std::string(*utf8, utf8.length()));
}


}  // namespace

Napi::Value translateHeapProfile(Napi::Env env, v8::Isolate* isolate,
                                 v8::AllocationProfile& profile) {
  util::StringTable strings;
  // A script's name is the same for all of its functions: convert it once per script.
  std::unordered_map<int, int32_t> fileByScriptId;

  std::vector<int32_t> nodeParent, nodeName, nodeFile, nodeLine, nodeColumn, nodeScriptId;
  std::vector<int32_t> allocationNode;
  std::vector<double> allocationSizeBytes, allocationCount;

  // Iterative pre-order walk: deep stacks must not overflow the native stack.
  std::vector<std::pair<const v8::AllocationProfile::Node*, int32_t>> pending;
  pending.emplace_back(profile.GetRootNode(), -1);
  while (!pending.empty()) {
    auto [node, parent] = pending.back();
    pending.pop_back();
    int32_t index = static_cast<int32_t>(nodeParent.size());

    int32_t file;
    auto cached = fileByScriptId.find(node->script_id);
    if (cached != fileByScriptId.end() && node->script_id != v8::UnboundScript::kNoScriptId) {
      file = cached->second;
    } else {
      file = internV8(strings, isolate, node->script_name);
      fileByScriptId.emplace(node->script_id, file);
    }

    nodeParent.push_back(parent);
    nodeName.push_back(internV8(strings, isolate, node->name));
    nodeFile.push_back(file);
    nodeLine.push_back(node->line_number);
    nodeColumn.push_back(node->column_number);
    nodeScriptId.push_back(node->script_id);

    for (const auto& allocation : node->allocations) {
      allocationNode.push_back(index);
      allocationSizeBytes.push_back(static_cast<double>(allocation.size));
      allocationCount.push_back(static_cast<double>(allocation.count));
    }
    for (const auto* child : node->children) pending.emplace_back(child, index);
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("strings", strings.toJs(env));
  result.Set("nodeParent", util::copyToJs<Napi::Int32Array>(env, nodeParent));
  result.Set("nodeName", util::copyToJs<Napi::Int32Array>(env, nodeName));
  result.Set("nodeFile", util::copyToJs<Napi::Int32Array>(env, nodeFile));
  result.Set("nodeLine", util::copyToJs<Napi::Int32Array>(env, nodeLine));
  result.Set("nodeColumn", util::copyToJs<Napi::Int32Array>(env, nodeColumn));
  result.Set("nodeScriptId", util::copyToJs<Napi::Int32Array>(env, nodeScriptId));
  result.Set("allocationNode", util::copyToJs<Napi::Int32Array>(env, allocationNode));
  result.Set("allocationSizeBytes", util::copyToJs<Napi::Float64Array>(env, allocationSizeBytes));
  result.Set("allocationCount", util::copyToJs<Napi::Float64Array>(env, allocationCount));
  return result;
}

}  // namespace allocscope::v8heap
