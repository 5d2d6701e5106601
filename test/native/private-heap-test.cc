// Unit tests of native/util/private-heap.cc: blocks apart from glibc's heap, aligned, safe across threads and fork.
#include "util/private-heap.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "tap.h"

using allocscope::util::privateAllocate;
using allocscope::util::privateDeallocate;
using allocscope::util::PrivateHashMap;
using allocscope::util::PrivateString;
using allocscope::util::PrivateVector;
using allocscope::util::StringHash;

extern char end;  // the linker's end of the program's data: glibc's main heap starts above it

namespace {

// True when the block lies in the program break's heap, where glibc's main arena lives.
bool inBreakHeap(const void* block) {
  auto address = reinterpret_cast<uintptr_t>(block);
  return address >= reinterpret_cast<uintptr_t>(&end) && address < reinterpret_cast<uintptr_t>(sbrk(0));
}

// As containers ask: the size of an array of objects is a multiple of their alignment.
size_t alignmentFor(size_t size) { return std::min<size_t>(16, size & (~size + 1)); }

const size_t kSizes[] = {1, 8, 24, 48, 100, 256, 1000, 4096, 5000, 65536, 65537, 1 << 20};

}  // namespace

TEST("blocks of every size are aligned, writable, disjoint and outside glibc's main heap") {
  std::vector<std::pair<unsigned char*, size_t>> blocks;
  for (size_t round = 0; round < 3; ++round) {
    for (size_t size : kSizes) {
      size_t alignment = alignmentFor(size);
      auto* block = static_cast<unsigned char*>(privateAllocate(size, alignment));
      REQUIRE(block != nullptr);
      CHECK_EQ(reinterpret_cast<uintptr_t>(block) % alignment, uintptr_t{0});
      CHECK(!inBreakHeap(block));
      std::memset(block, static_cast<int>(blocks.size() & 0xff), size);
      blocks.emplace_back(block, size);
    }
  }
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size(); ++i) CHECK(blocks[i - 1].first + blocks[i - 1].second <= blocks[i].first);
  for (auto [block, size] : blocks) privateDeallocate(block, size, alignmentFor(size));
}

TEST("containers on the private heap: strings, vectors and hash maps keyed by strings") {
  PrivateHashMap<PrivateString, PrivateVector<uintptr_t>, StringHash> map;
  for (uintptr_t i = 0; i < 5000; ++i) {
    PrivateString key("function number ");
    key += std::to_string(i);
    map[key].assign(i % 7 + 1, i);
  }
  CHECK_EQ(map.size(), size_t{5000});
  CHECK(!inBreakHeap(&map.begin()->second[0]));
  const auto& found = map.at(PrivateString("function number 4321"));
  CHECK_EQ(found.size(), size_t{4321 % 7 + 1});
  CHECK_EQ(found.back(), uintptr_t{4321});
}

TEST("threads allocating and freeing at once never share a block") {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<int> corrupted(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &corrupted] {
      std::vector<std::pair<unsigned char*, size_t>> held;
      uint32_t random = 2463534242u + static_cast<uint32_t>(t);
      for (int i = 0; i < 20000; ++i) {
        random ^= random << 13;
        random ^= random >> 17;
        random ^= random << 5;
        if (held.size() < 64 && (random & 1)) {
          size_t size = kSizes[random % 11];  // up to 64 KiB + 1: pools and mapped blocks
          auto* block = static_cast<unsigned char*>(privateAllocate(size, alignmentFor(size)));
          std::memset(block, t + 1, size);
          held.emplace_back(block, size);
        } else if (!held.empty()) {
          auto [block, size] = held.back();
          held.pop_back();
          for (size_t b = 0; b < size; ++b) corrupted[t] += block[b] != t + 1;
          privateDeallocate(block, size, alignmentFor(size));
        }
      }
      for (auto [block, size] : held) privateDeallocate(block, size, alignmentFor(size));
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) CHECK_EQ(corrupted[t], 0);
}

TEST("a child forked while other threads allocate can allocate: the lock is never inherited held") {
  std::atomic<bool> stop{false};
  std::thread churn([&stop] {
    while (!stop.load(std::memory_order_relaxed)) privateDeallocate(privateAllocate(64, 8), 64, 8);
  });
  int childrenOk = 0;
  for (int i = 0; i < 50 && childrenOk == i; ++i) {  // the first child that fails ends it
    pid_t child = fork();
    if (child == 0) {
      alarm(5);  // a deadlocked child fails the test instead of hanging it
      privateDeallocate(privateAllocate(64, 8), 64, 8);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    childrenOk += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  stop = true;
  churn.join();
  CHECK_EQ(childrenOk, 50);
}

int main(int argc, char** argv) { return tap::runAll(argc, argv); }
