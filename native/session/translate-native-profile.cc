// Symbolizes and flattens a native snapshot for the TypeScript profile builder.
#include "session/translate-native-profile.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampler/thread-state.h"
#include "symbolize/symbolizer.h"
#include "util/string-table.h"
#include "util/typed-arrays.h"
#include "v8/js-code-map.h"

namespace allocscope::session {

namespace {

bool sameObjects(const std::vector<symbolize::LoadedObject>& a, const std::vector<symbolize::LoadedObject>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].start != b[i].start || a[i].limit != b[i].limit || a[i].buildId != b[i].buildId) {
      return false;
    }
  }
  return true;
}

// The last profile's symbolizer, kept while the same objects are loaded: it reads each object's
// symbol table from its file once, and that was most of a native.profile() (~30 ms a call with
// Node's table; a continuous profiler calls it every period). Guarded by s_symbolizerMutex for
// the whole translation, since lookups fill the symbolizer lazily.
std::mutex s_symbolizerMutex;
std::vector<symbolize::LoadedObject> s_symbolizedObjects;
std::unique_ptr<symbolize::Symbolizer> s_symbolizer;

symbolize::Symbolizer& symbolizerForLoadedObjects() {
  std::vector<symbolize::LoadedObject> objects = symbolize::loadedObjects();
  if (s_symbolizer == nullptr || !sameObjects(objects, s_symbolizedObjects)) {
    s_symbolizedObjects = objects;
    s_symbolizer = std::make_unique<symbolize::Symbolizer>(std::move(objects));
  }
  return *s_symbolizer;
}

}  // namespace

void warmSymbolizer() {
  sampler::ScopedBusy busy;
  std::lock_guard<std::mutex> lock(s_symbolizerMutex);
  symbolize::Symbolizer& symbolizer = symbolizerForLoadedObjects();
  // A lookup in each object reads its table (segments of one object share theirs).
  for (const auto& object : symbolizer.objects()) symbolizer.lookup(object.start);
}

Napi::Value translateNativeProfile(Napi::Env env, const aggregate::AggregateSnapshot& snapshot) {
  sampler::ScopedBusy busy;  // symbolizing allocates; those allocations are not the application's
  std::lock_guard<std::mutex> lock(s_symbolizerMutex);
  symbolize::Symbolizer& symbolizer = symbolizerForLoadedObjects();
  const auto& objects = symbolizer.objects();

  util::StringTable strings;

  std::unordered_map<uintptr_t, int32_t> pcIndex;
  std::vector<double> pcs;
  std::vector<int32_t> pcObject, pcFunction, pcScript, pcLine, pcColumn, stackOffsets{0}, stackPcs;
  std::vector<double> allocObjects, allocBytes, inuseObjects, inuseBytes;
  for (size_t s = 0; s < snapshot.stacks.size(); ++s) {
    for (uintptr_t pc : snapshot.stacks[s]) {
      auto [entry, added] = pcIndex.try_emplace(pc, static_cast<int32_t>(pcs.size()));
      if (added && v8frames::isJsFrame(pc)) {
        v8frames::JsFrame js = v8frames::JsCodeMap::instance().frame(pc);
        pcs.push_back(0);
        pcObject.push_back(-1);
        pcFunction.push_back(strings.intern(js.function));
        pcScript.push_back(strings.intern(js.script));
        pcLine.push_back(js.line);
        pcColumn.push_back(js.column);
      } else if (added) {
        // Return addresses point after the call: look up pc - 1 so that a call at the very end
        // of a function is not attributed to the next one.
        symbolize::Frame frame = symbolizer.lookup(pc - 1);
        if (frame.object == nullptr) {
          auto unloaded = snapshot.unloadedFrameNames.find(pc);
          if (unloaded != snapshot.unloadedFrameNames.end()) frame.function = unloaded->second;
        }
        pcs.push_back(static_cast<double>(pc));
        pcObject.push_back(frame.object == nullptr ? -1 : static_cast<int32_t>(frame.object - objects.data()));
        pcFunction.push_back(strings.intern(frame.function));
        pcScript.push_back(-1);
        pcLine.push_back(0);
        pcColumn.push_back(0);
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
  // A long-running service would otherwise keep every page of names it ever looked up in its RSS.
  symbolizer.releasePages();

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

  Napi::Object result = Napi::Object::New(env);
  result.Set("objects", jsObjects);
  result.Set("strings", strings.toJs(env));
  result.Set("pcs", util::copyToJs<Napi::Float64Array>(env, pcs));
  result.Set("pcObject", util::copyToJs<Napi::Int32Array>(env, pcObject));
  result.Set("pcFunction", util::copyToJs<Napi::Int32Array>(env, pcFunction));
  result.Set("pcScript", util::copyToJs<Napi::Int32Array>(env, pcScript));
  result.Set("pcLine", util::copyToJs<Napi::Int32Array>(env, pcLine));
  result.Set("pcColumn", util::copyToJs<Napi::Int32Array>(env, pcColumn));
  result.Set("stackOffsets", util::copyToJs<Napi::Int32Array>(env, stackOffsets));
  result.Set("stackPcs", util::copyToJs<Napi::Int32Array>(env, stackPcs));
  result.Set("allocObjects", util::copyToJs<Napi::Float64Array>(env, allocObjects));
  result.Set("allocBytes", util::copyToJs<Napi::Float64Array>(env, allocBytes));
  result.Set("inuseObjects", util::copyToJs<Napi::Float64Array>(env, inuseObjects));
  result.Set("inuseBytes", util::copyToJs<Napi::Float64Array>(env, inuseBytes));
  result.Set("liveSamples", static_cast<double>(snapshot.liveSamples));
  return result;
}

}  // namespace allocscope::session
