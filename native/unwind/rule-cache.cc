// RuleCache: seqlock-guarded, direct-mapped entries with each row packed into 64 bits.
#include "unwind/rule-cache.h"

namespace allocscope::unwind {

namespace {

struct Entry {
  std::atomic<uint32_t> sequence{0};  // odd while a writer fills the entry
  std::atomic<uintptr_t> pc{0};
  std::atomic<uint64_t> packed{0};
};

constexpr size_t kEntries = 1024;  // 24 KiB
Entry s_entries[kEntries];

Entry& entryFor(uintptr_t pc) { return s_entries[((pc >> 1) ^ (pc >> 11)) & (kEntries - 1)]; }

// Layout of a packed row: CFA offset (24 bits, signed), rbp's and the return address's offsets
// (16 bits each, signed), their kinds (2 bits each), and whether the CFA is based on rbp.
constexpr int kCfaOffsetBits = 24;
constexpr int kSavedOffsetBits = 16;

bool fits(int64_t value, int bits) { return value >= -(int64_t{1} << (bits - 1)) && value < (int64_t{1} << (bits - 1)); }

uint64_t field(int64_t value, int bits) { return static_cast<uint64_t>(value) & ((uint64_t{1} << bits) - 1); }

int64_t signedField(uint64_t packed, int shift, int bits) {
  auto value = static_cast<int64_t>(packed << (64 - shift - bits));
  return value >> (64 - bits);  // arithmetic shift: sign-extends
}

bool pack(const FrameRule& rule, uint64_t& packed) {
  if (rule.cfaIsExpression) return false;
  if (rule.cfaRegister != kRegisterStackPointer && rule.cfaRegister != kRegisterFramePointer) return false;
  if (!fits(rule.cfaOffset, kCfaOffsetBits) || !fits(rule.framePointer.offset, kSavedOffsetBits) ||
      !fits(rule.returnAddress.offset, kSavedOffsetBits)) {
    return false;
  }
  packed = field(rule.cfaOffset, kCfaOffsetBits) | field(rule.framePointer.offset, kSavedOffsetBits) << 24 |
           field(rule.returnAddress.offset, kSavedOffsetBits) << 40 |
           static_cast<uint64_t>(rule.framePointer.kind) << 56 | static_cast<uint64_t>(rule.returnAddress.kind) << 58 |
           uint64_t{rule.cfaRegister == kRegisterFramePointer} << 60;
  return true;
}

FrameRule unpack(uint64_t packed) {
  FrameRule rule;
  rule.cfaOffset = signedField(packed, 0, kCfaOffsetBits);
  rule.framePointer.offset = static_cast<int32_t>(signedField(packed, 24, kSavedOffsetBits));
  rule.returnAddress.offset = static_cast<int32_t>(signedField(packed, 40, kSavedOffsetBits));
  rule.framePointer.kind = static_cast<SavedRegister::Kind>((packed >> 56) & 3);
  rule.returnAddress.kind = static_cast<SavedRegister::Kind>((packed >> 58) & 3);
  rule.cfaRegister = (packed >> 60) & 1 ? kRegisterFramePointer : kRegisterStackPointer;
  return rule;
}

}  // namespace

bool RuleCache::find(uintptr_t pc, FrameRule& rule) {
  Entry& entry = entryFor(pc);
  uint32_t before = entry.sequence.load(std::memory_order_acquire);
  if (before & 1) return false;
  uintptr_t cachedPc = entry.pc.load(std::memory_order_relaxed);
  uint64_t packed = entry.packed.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (entry.sequence.load(std::memory_order_relaxed) != before || cachedPc != pc || pc == 0) return false;
  rule = unpack(packed);
  return true;
}

void RuleCache::store(uintptr_t pc, const FrameRule& rule) {
  uint64_t packed;
  if (!pack(rule, packed)) return;
  Entry& entry = entryFor(pc);
  uint32_t sequence = entry.sequence.load(std::memory_order_relaxed);
  if ((sequence & 1) || !entry.sequence.compare_exchange_strong(sequence, sequence + 1, std::memory_order_acquire)) return;
  std::atomic_thread_fence(std::memory_order_release);
  entry.pc.store(pc, std::memory_order_relaxed);
  entry.packed.store(packed, std::memory_order_relaxed);
  entry.sequence.store(sequence + 2, std::memory_order_release);
}

void RuleCache::clear() {
  for (Entry& entry : s_entries) {
    uint32_t sequence = entry.sequence.load(std::memory_order_relaxed);
    if ((sequence & 1) || !entry.sequence.compare_exchange_strong(sequence, sequence + 1, std::memory_order_acquire)) {
      continue;  // a writer is filling it with a row of code loaded now
    }
    std::atomic_thread_fence(std::memory_order_release);
    entry.pc.store(0, std::memory_order_relaxed);
    entry.sequence.store(sequence + 2, std::memory_order_release);
  }
}

}  // namespace allocscope::unwind
