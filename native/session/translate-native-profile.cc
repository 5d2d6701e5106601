// Symbolizes and flattens a native snapshot for the TypeScript profile builder.
#include "session/translate-native-profile.h"

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampler/thread-state.h"
#include "symbolize/symbolizer.h"

namespace allocscope::session {

namespace {

template <typename TypedArray, typename T>
TypedArray toJs(Napi::Env env, const std::vector<T>& values) {
  TypedArray array = TypedArray::New(env, values.size());
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(T));
  return array;
}

}  // namespace

Napi::Value translateNativeProfile(Napi::Env env, const aggregate::AggregateSnapshot& snapshot) {
  sampler::ScopedBusy busy;  // symbolizing allocates; those allocations are not the application's
  symbolize::Symbolizer symbolizer(symbolize::loadedObjects());
  const auto& objects = symbolizer.objects();

  std::vector<std::string> strings{""};
  std::unordered_map<std::string, int32_t> stringIds{{"", 0}};
  auto intern = [&](const std::string& text) {
    auto [entry, added] = stringIds.try_emplace(text, static_cast<int32_t>(strings.size()));
    if (added) strings.push_back(text);
    return entry->second;
  };

  std::unordered_map<uintptr_t, int32_t> pcIndex;
  std::vector<double> pcs;
  std::vector<int32_t> pcObject, pcFunction, stackOffsets{0}, stackPcs;
  std::vector<double> allocObjects, allocBytes, inuseObjects, inuseBytes;
  for (size_t s = 0; s < snapshot.stacks.size(); ++s) {
    for (uintptr_t pc : snapshot.stacks[s]) {
      auto [entry, added] = pcIndex.try_emplace(pc, static_cast<int32_t>(pcs.size()));
      if (added) {
        // Return addresses point after the call: look up pc - 1 so that a call at the very end
        // of a function is not attributed to the next one.
        symbolize::Frame frame = symbolizer.lookup(pc - 1);
        pcs.push_back(static_cast<double>(pc));
        pcObject.push_back(frame.object == nullptr ? -1 : static_cast<int32_t>(frame.object - objects.data()));
        pcFunction.push_back(intern(frame.function));
      }
      stackPcs.push_back(entry->second);
    }
    stackOffsets.push_back(static_cast<int32_t>(stackPcs.size()));
    const auto& totals = snapshot.totals[s];
    allocObjects.push_back(totals.allocObjects);
    allocBytes.push_back(totals.allocBytes);
    inuseObjects.push_back(totals.inuseObjects);
    inuseBytes.push_back(totals.inuseBytes);
  }

  Napi::Array jsObjects = Napi::Array::New(env, objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    Napi::Object object = Napi::Object::New(env);
    object.Set("path", objects[i].path);
    object.Set("start", static_cast<double>(objects[i].start));
    object.Set("limit", static_cast<double>(objects[i].limit));
    object.Set("fileOffset", static_cast<double>(objects[i].fileOffset));
    object.Set("buildId", objects[i].buildId);
    jsObjects.Set(static_cast<uint32_t>(i), object);
  }
  Napi::Array jsStrings = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); ++i) jsStrings.Set(static_cast<uint32_t>(i), strings[i]);

  Napi::Object result = Napi::Object::New(env);
  result.Set("objects", jsObjects);
  result.Set("strings", jsStrings);
  result.Set("pcs", toJs<Napi::Float64Array>(env, pcs));
  result.Set("pcObject", toJs<Napi::Int32Array>(env, pcObject));
  result.Set("pcFunction", toJs<Napi::Int32Array>(env, pcFunction));
  result.Set("stackOffsets", toJs<Napi::Int32Array>(env, stackOffsets));
  result.Set("stackPcs", toJs<Napi::Int32Array>(env, stackPcs));
  result.Set("allocObjects", toJs<Napi::Float64Array>(env, allocObjects));
  result.Set("allocBytes", toJs<Napi::Float64Array>(env, allocBytes));
  result.Set("inuseObjects", toJs<Napi::Float64Array>(env, inuseObjects));
  result.Set("inuseBytes", toJs<Napi::Float64Array>(env, inuseBytes));
  result.Set("liveSamples", static_cast<double>(snapshot.liveSamples));
  return result;
}

}  // namespace allocscope::session
