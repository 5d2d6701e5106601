// Converts V8's AllocationProfile into the flat node and allocation tables described in the header.
#include "v8/translate-heap-profile.h"

#include <v8.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace allocscope::v8heap {

namespace {

// Deduplicates UTF-8 strings; index 0 is always "" as in pprof's string table.
class StringTable {
 public:
  StringTable() { intern(std::string()); }

  int32_t intern(std::string text) {
    auto found = d_index.find(text);
    if (found != d_index.end()) return found->second;
    int32_t id = static_cast<int32_t>(d_strings.size());
    d_index.emplace(text, id);
    d_strings.push_back(std::move(text));
    return id;
  }

  int32_t intern(v8::Isolate* isolate, v8::Local<v8::String> text) {
    if (text.IsEmpty() || text->Length() == 0) return 0;
    v8::String::Utf8Value utf8(isolate, text);
    return intern(std::string(*utf8, utf8.length()));
  }

  Napi::Array toJs(Napi::Env env) const {
    Napi::Array result = Napi::Array::New(env, d_strings.size());
    for (size_t i = 0; i < d_strings.size(); ++i) {
      result.Set(static_cast<uint32_t>(i), Napi::String::New(env, d_strings[i]));
    }
    return result;
  }

 private:
  std::unordered_map<std::string, int32_t> d_index;
  std::vector<std::string> d_strings;
};

template <typename TypedArray, typename T>
TypedArray copyToJs(Napi::Env env, const std::vector<T>& values) {
  TypedArray array = TypedArray::New(env, values.size());
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(T));
  return array;
}

}  // namespace

Napi::Value translateHeapProfile(Napi::Env env, v8::Isolate* isolate,
                                 v8::AllocationProfile& profile) {
  StringTable strings;
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
      file = strings.intern(isolate, node->script_name);
      fileByScriptId.emplace(node->script_id, file);
    }

    nodeParent.push_back(parent);
    nodeName.push_back(strings.intern(isolate, node->name));
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
  result.Set("nodeParent", copyToJs<Napi::Int32Array>(env, nodeParent));
  result.Set("nodeName", copyToJs<Napi::Int32Array>(env, nodeName));
  result.Set("nodeFile", copyToJs<Napi::Int32Array>(env, nodeFile));
  result.Set("nodeLine", copyToJs<Napi::Int32Array>(env, nodeLine));
  result.Set("nodeColumn", copyToJs<Napi::Int32Array>(env, nodeColumn));
  result.Set("nodeScriptId", copyToJs<Napi::Int32Array>(env, nodeScriptId));
  result.Set("allocationNode", copyToJs<Napi::Int32Array>(env, allocationNode));
  result.Set("allocationSizeBytes", copyToJs<Napi::Float64Array>(env, allocationSizeBytes));
  result.Set("allocationCount", copyToJs<Napi::Float64Array>(env, allocationCount));
  return result;
}

}  // namespace allocscope::v8heap
