// allocscope's long-lived tables in pages it maps itself, apart from the host's malloc heap.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace allocscope::util {

// Why: names of JS frames and C++ functions, stacks and live samples stay for minutes, and many
// are allocated on the host's main thread (V8's code events, drains before code moves, profile
// collections). In glibc's main heap they sat between the host's short-lived blocks: the heap
// stopped trimming its top and kept its free memory in fragments, and the host's own mallocs
// took longer paths (_int_malloc and unlink_chunk, 0.5-1.5% of the main thread of a service at
// 900 req/s; docs/performance.md). Here they share pages only with each other.
//
// Thread-safe (one lock, held only inside these calls). Never for a malloc hook: it may map pages.
// `bytes` is a multiple of `alignment`, as for any array of objects (the pool relies on it).
void* privateAllocate(size_t bytes, size_t alignment);
void privateDeallocate(void* block, size_t bytes, size_t alignment) noexcept;

// A stateless allocator, so that containers on the private heap cost nothing more per object.
template <class T>
struct PrivateAllocator {
  using value_type = T;
  PrivateAllocator() noexcept = default;
  template <class U>
  PrivateAllocator(const PrivateAllocator<U>&) noexcept {}
  T* allocate(size_t count) { return static_cast<T*>(privateAllocate(count * sizeof(T), alignof(T))); }
  void deallocate(T* block, size_t count) noexcept { privateDeallocate(block, count * sizeof(T), alignof(T)); }
  template <class U>
  bool operator==(const PrivateAllocator<U>&) const noexcept {
    return true;
  }
};

using PrivateString = std::basic_string<char, std::char_traits<char>, PrivateAllocator<char>>;
template <class T>
using PrivateVector = std::vector<T, PrivateAllocator<T>>;
template <class Key, class Value, class Hash = std::hash<Key>>
using PrivateHashMap = std::unordered_map<Key, Value, Hash, std::equal_to<Key>, PrivateAllocator<std::pair<const Key, Value>>>;
template <class Key, class Value>
using PrivateMap = std::map<Key, Value, std::less<Key>, PrivateAllocator<std::pair<const Key, Value>>>;

// std::hash covers std::string only; this hashes any string by its characters.
struct StringHash {
  size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

}  // namespace allocscope::util
