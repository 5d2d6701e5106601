// Copies a std::vector into a new JS typed array: how the addon hands tables to JS in one piece.
#pragma once

#include <napi.h>

#include <cstring>
#include <vector>

namespace allocscope::util {

// copyToJs returns a TypedArray (Napi::Int32Array, Napi::Float64Array, ...) holding `values`.
template <typename TypedArray, typename T>
TypedArray copyToJs(Napi::Env env, const std::vector<T>& values) {
  TypedArray array = TypedArray::New(env, values.size());
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(T));
  return array;
}

}  // namespace allocscope::util
