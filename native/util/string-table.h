// Deduplicated UTF-8 strings handed to JS as one array; index 0 is always "" as in pprof's table.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace allocscope::util {

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

}  // namespace allocscope::util
