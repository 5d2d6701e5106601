// A small reader of DWARF call frame information (.eh_frame), enough to step through code built without frame pointers.
#include "unwind/eh-frame.h"

#include <cstddef>
#include <cstring>

namespace allocscope::unwind {

namespace {

// Pointer encodings (DW_EH_PE_*): the low nibble is the format, the high one the base.
constexpr uint8_t kEncodingOmit = 0xff;
constexpr uint8_t kFormatMask = 0x0f;
constexpr uint8_t kAbsolute = 0x00;
constexpr uint8_t kUleb128 = 0x01;
constexpr uint8_t kUdata2 = 0x02;
constexpr uint8_t kUdata4 = 0x03;
constexpr uint8_t kUdata8 = 0x04;
constexpr uint8_t kSleb128 = 0x09;
constexpr uint8_t kSdata2 = 0x0a;
constexpr uint8_t kSdata4 = 0x0b;
constexpr uint8_t kSdata8 = 0x0c;
constexpr uint8_t kBaseMask = 0x70;
constexpr uint8_t kPcRelative = 0x10;
constexpr uint8_t kDataRelative = 0x30;
// The only search-table encoding linkers emit: 32-bit offsets from the start of .eh_frame_hdr.
constexpr uint8_t kTableEncoding = kDataRelative | kSdata4;

// No sane record is this long; a larger length means we are not reading a record.
constexpr uint32_t kMaxRecordLength = 1u << 24;
// DW_CFA_remember_state nests this deep at most in compiler output.
constexpr int kMaxRememberedStates = 8;

// Reads little-endian values and LEB128 numbers, never past `end`; a read past it fails the reader.
class Reader {
 public:
  Reader(const uint8_t* at, const uint8_t* end) : d_at(at), d_end(end) {}

  bool ok() const { return d_ok; }
  bool atEnd() const { return !d_ok || d_at >= d_end; }
  const uint8_t* position() const { return d_at; }

  template <typename T>
  T fixed() {
    T value{};
    if (!has(sizeof(T))) return value;
    std::memcpy(&value, d_at, sizeof(T));
    d_at += sizeof(T);
    return value;
  }

  uint64_t uleb() {
    uint64_t value = 0;
    for (int shift = 0; has(1) && shift < 64; shift += 7) {
      uint8_t byte = *d_at++;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    d_ok = false;
    return 0;
  }

  int64_t sleb() {
    uint64_t value = 0;
    for (int shift = 0; has(1) && shift < 64;) {
      uint8_t byte = *d_at++;
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) == 0) {
        if (shift < 64 && (byte & 0x40)) value |= ~uint64_t{0} << shift;
        return static_cast<int64_t>(value);
      }
    }
    d_ok = false;
    return 0;
  }

  void skip(uint64_t bytes) {
    if (has(bytes)) d_at += bytes;
  }

  // A pointer in the given DW_EH_PE encoding; `dataBase` serves the data-relative base.
  uintptr_t pointer(uint8_t encoding, uintptr_t dataBase = 0) {
    uintptr_t fieldAddress = reinterpret_cast<uintptr_t>(d_at);
    uintptr_t value = 0;
    switch (encoding & kFormatMask) {
      case kAbsolute: value = fixed<uint64_t>(); break;
      case kUleb128: value = uleb(); break;
      case kUdata2: value = fixed<uint16_t>(); break;
      case kUdata4: value = fixed<uint32_t>(); break;
      case kUdata8: value = fixed<uint64_t>(); break;
      case kSleb128: value = static_cast<uintptr_t>(sleb()); break;
      case kSdata2: value = static_cast<uintptr_t>(static_cast<int64_t>(fixed<int16_t>())); break;
      case kSdata4: value = static_cast<uintptr_t>(static_cast<int64_t>(fixed<int32_t>())); break;
      case kSdata8: value = static_cast<uintptr_t>(fixed<int64_t>()); break;
      default: d_ok = false; return 0;
    }
    switch (encoding & kBaseMask) {
      case 0: break;
      case kPcRelative: value += fieldAddress; break;
      case kDataRelative: value += dataBase; break;
      default: d_ok = false; return 0;  // text- and function-relative bases do not occur on x86-64
    }
    return value;  // indirect pointers (0x80) occur only for personality routines, which we skip
  }

 private:
  bool has(uint64_t bytes) {
    if (d_ok && d_at <= d_end && static_cast<uint64_t>(d_end - d_at) >= bytes) return true;
    d_ok = false;
    return false;
  }

  const uint8_t* d_at;
  const uint8_t* d_end;
  bool d_ok = true;
};

// The start of one record (CIE or FDE) and the end its length gives, or false if it has none.
bool recordBounds(const uint8_t* record, const uint8_t** body, const uint8_t** end) {
  uint32_t length;
  std::memcpy(&length, record, sizeof(length));
  // 0 ends the section; 0xffffffff announces 64-bit DWARF, which .eh_frame does not use.
  if (length == 0 || length > kMaxRecordLength) return false;
  *body = record + 4;
  *end = *body + length;
  return true;
}

// A Common Information Entry: what all the FDEs that point at it share.
struct Cie {
  uint64_t codeAlignment = 1;
  int64_t dataAlignment = -8;
  uint8_t fdeEncoding = kAbsolute;
  bool hasAugmentationData = false;
  const uint8_t* instructions = nullptr;
  const uint8_t* end = nullptr;
};

bool parseCie(const uint8_t* record, Cie& cie) {
  const uint8_t* body;
  if (!recordBounds(record, &body, &cie.end)) return false;
  Reader reader(body, cie.end);
  if (reader.fixed<uint32_t>() != 0) return false;  // a CIE's id is 0 in .eh_frame
  uint8_t version = reader.fixed<uint8_t>();
  const char* augmentation = reinterpret_cast<const char*>(reader.position());
  size_t augmentationLength = strnlen(augmentation, cie.end - reader.position());
  reader.skip(augmentationLength + 1);
  cie.codeAlignment = reader.uleb();
  cie.dataAlignment = reader.sleb();
  uint64_t returnAddressRegister = version == 1 ? reader.fixed<uint8_t>() : reader.uleb();
  if (returnAddressRegister != kRegisterReturnAddress) return false;
  if (augmentation[0] == 'z') {
    cie.hasAugmentationData = true;
    uint64_t dataLength = reader.uleb();
    if (!reader.ok() || dataLength > static_cast<uint64_t>(cie.end - reader.position())) return false;
    const uint8_t* dataEnd = reader.position() + dataLength;
    for (size_t i = 1; i < augmentationLength && reader.ok(); ++i) {
      switch (augmentation[i]) {
        case 'R': cie.fdeEncoding = reader.fixed<uint8_t>(); break;
        case 'L': reader.fixed<uint8_t>(); break;
        case 'P': reader.pointer(reader.fixed<uint8_t>() & 0x7f); break;
        case 'S': break;  // a signal frame: nothing to read
        default: i = augmentationLength; break;  // unknown: the length lets us skip the rest
      }
    }
    reader = Reader(dataEnd, cie.end);
  } else if (augmentationLength != 0) {
    return false;  // an old augmentation ("eh") whose data we cannot skip
  }
  cie.instructions = reader.position();
  return reader.ok();
}

// A Frame Description Entry: one function's address range and the program that builds its rows.
struct Fde {
  uintptr_t start = 0;
  uintptr_t end = 0;
  const uint8_t* instructions = nullptr;
  const uint8_t* instructionsEnd = nullptr;
};

bool parseFde(const uint8_t* record, Cie& cie, Fde& fde) {
  const uint8_t* body;
  if (!recordBounds(record, &body, &fde.instructionsEnd)) return false;
  Reader reader(body, fde.instructionsEnd);
  uint32_t cieOffset = reader.fixed<uint32_t>();
  if (cieOffset == 0 || !parseCie(body - static_cast<ptrdiff_t>(cieOffset), cie)) return false;
  fde.start = reader.pointer(cie.fdeEncoding);
  fde.end = fde.start + reader.pointer(cie.fdeEncoding & kFormatMask);
  if (cie.hasAugmentationData) reader.skip(reader.uleb());
  fde.instructions = reader.position();
  return reader.ok();
}

void setSaved(FrameRule& rule, uint64_t reg, SavedRegister saved) {
  if (reg == kRegisterFramePointer) rule.framePointer = saved;
  if (reg == kRegisterReturnAddress) rule.returnAddress = saved;
}

SavedRegister savedFor(const FrameRule& rule, uint64_t reg) {
  return reg == kRegisterFramePointer ? rule.framePointer : rule.returnAddress;
}

// What a function's CFA program says about how it was compiled.
struct ProgramShape {
  bool changesCfa = false;           // it moves the stack pointer (a leaf may not)
  bool cfaFromFramePointer = false;  // some row defines the CFA from rbp
};

// Runs a CFA program from `location` until the row that covers `target` is built (the whole
// program when target is the largest address). `initial` is the CIE's row, which
// DW_CFA_restore returns to. Fills *shape when given.
bool runProgram(const uint8_t* at, const uint8_t* end, const Cie& cie, uintptr_t location, uintptr_t target,
                const FrameRule& initial, FrameRule& rule, ProgramShape* shape) {
  Reader reader(at, end);
  FrameRule remembered[kMaxRememberedStates];
  int rememberedCount = 0;
  auto advance = [&](uint64_t delta) {
    location += delta * cie.codeAlignment;
    return location <= target;
  };
  auto noteCfa = [&]() {
    if (shape == nullptr) return;
    shape->changesCfa = true;
    if (rule.cfaRegister == kRegisterFramePointer && !rule.cfaIsExpression) shape->cfaFromFramePointer = true;
  };
  while (!reader.atEnd()) {
    uint8_t opcode = reader.fixed<uint8_t>();
    uint8_t operand = opcode & 0x3f;
    switch (opcode >> 6) {
      case 1:  // DW_CFA_advance_loc
        if (!advance(operand)) return true;
        continue;
      case 2:  // DW_CFA_offset
        setSaved(rule, operand, {SavedRegister::Kind::kAtCfaOffset, static_cast<int32_t>(reader.uleb() * cie.dataAlignment)});
        continue;
      case 3:  // DW_CFA_restore
        setSaved(rule, operand, savedFor(initial, operand));
        continue;
      default: break;
    }
    switch (opcode) {
      case 0x00: break;  // DW_CFA_nop
      case 0x01: {       // DW_CFA_set_loc
        location = reader.pointer(cie.fdeEncoding);
        if (location > target) return true;
        break;
      }
      case 0x02: if (!advance(reader.fixed<uint8_t>())) return true; break;   // DW_CFA_advance_loc1
      case 0x03: if (!advance(reader.fixed<uint16_t>())) return true; break;  // DW_CFA_advance_loc2
      case 0x04: if (!advance(reader.fixed<uint32_t>())) return true; break;  // DW_CFA_advance_loc4
      case 0x05: {  // DW_CFA_offset_extended
        uint64_t reg = reader.uleb();
        setSaved(rule, reg, {SavedRegister::Kind::kAtCfaOffset, static_cast<int32_t>(reader.uleb() * cie.dataAlignment)});
        break;
      }
      case 0x06: {  // DW_CFA_restore_extended
        uint64_t reg = reader.uleb();
        setSaved(rule, reg, savedFor(initial, reg));
        break;
      }
      case 0x07: setSaved(rule, reader.uleb(), {SavedRegister::Kind::kUndefined, 0}); break;  // DW_CFA_undefined
      case 0x08: setSaved(rule, reader.uleb(), {SavedRegister::Kind::kSameValue, 0}); break;  // DW_CFA_same_value
      case 0x09: {  // DW_CFA_register: kept in another register, which a stack walk does not track
        uint64_t reg = reader.uleb();
        reader.uleb();
        setSaved(rule, reg, {SavedRegister::Kind::kUnsupported, 0});
        break;
      }
      case 0x0a:  // DW_CFA_remember_state
        if (rememberedCount == kMaxRememberedStates) return false;
        remembered[rememberedCount++] = rule;
        break;
      case 0x0b:  // DW_CFA_restore_state
        if (rememberedCount == 0) return false;
        rule = remembered[--rememberedCount];
        break;
      case 0x0c:  // DW_CFA_def_cfa
        rule.cfaRegister = static_cast<int>(reader.uleb());
        rule.cfaOffset = static_cast<int64_t>(reader.uleb());
        rule.cfaIsExpression = false;
        noteCfa();
        break;
      case 0x0d:  // DW_CFA_def_cfa_register
        rule.cfaRegister = static_cast<int>(reader.uleb());
        rule.cfaIsExpression = false;
        noteCfa();
        break;
      case 0x0e:  // DW_CFA_def_cfa_offset
        rule.cfaOffset = static_cast<int64_t>(reader.uleb());
        noteCfa();
        break;
      case 0x0f:  // DW_CFA_def_cfa_expression (PLT entries, stack realignment)
        reader.skip(reader.uleb());
        rule.cfaIsExpression = true;
        break;
      case 0x10:    // DW_CFA_expression
      case 0x16: {  // DW_CFA_val_expression
        uint64_t reg = reader.uleb();
        reader.skip(reader.uleb());
        setSaved(rule, reg, {SavedRegister::Kind::kUnsupported, 0});
        break;
      }
      case 0x11: {  // DW_CFA_offset_extended_sf
        uint64_t reg = reader.uleb();
        setSaved(rule, reg, {SavedRegister::Kind::kAtCfaOffset, static_cast<int32_t>(reader.sleb() * cie.dataAlignment)});
        break;
      }
      case 0x12:  // DW_CFA_def_cfa_sf
        rule.cfaRegister = static_cast<int>(reader.uleb());
        rule.cfaOffset = reader.sleb() * cie.dataAlignment;
        rule.cfaIsExpression = false;
        noteCfa();
        break;
      case 0x13:  // DW_CFA_def_cfa_offset_sf
        rule.cfaOffset = reader.sleb() * cie.dataAlignment;
        noteCfa();
        break;
      case 0x14:    // DW_CFA_val_offset
      case 0x15: {  // DW_CFA_val_offset_sf
        uint64_t reg = reader.uleb();
        if (opcode == 0x14) reader.uleb(); else reader.sleb();
        setSaved(rule, reg, {SavedRegister::Kind::kUnsupported, 0});
        break;
      }
      case 0x2e: reader.uleb(); break;  // DW_CFA_GNU_args_size
      case 0x2f: {                      // DW_CFA_GNU_negative_offset_extended
        uint64_t reg = reader.uleb();
        setSaved(rule, reg, {SavedRegister::Kind::kAtCfaOffset, static_cast<int32_t>(-static_cast<int64_t>(reader.uleb()) * cie.dataAlignment)});
        break;
      }
      default: return false;  // an opcode we do not know: its operands cannot be skipped
    }
  }
  return reader.ok();
}

// The row of `fde` that covers `target`, built from its CIE's initial row.
bool ruleAt(const Cie& cie, const Fde& fde, uintptr_t target, FrameRule& rule, ProgramShape* shape) {
  FrameRule initial;
  if (!runProgram(cie.instructions, cie.end, cie, 0, UINTPTR_MAX, initial, initial, nullptr)) return false;
  rule = initial;
  return runProgram(fde.instructions, fde.instructionsEnd, cie, fde.start, target, initial, rule, shape);
}

// The binary-search table of .eh_frame_hdr: (function start, FDE) pairs sorted by start.
struct SearchTable {
  const uint8_t* header = nullptr;
  const int32_t* entries = nullptr;  // pairs of offsets from `header`
  uint64_t count = 0;

  uintptr_t start(uint64_t i) const { return reinterpret_cast<uintptr_t>(header) + entries[2 * i]; }
  const uint8_t* fde(uint64_t i) const { return header + entries[2 * i + 1]; }
};

bool readSearchTable(const void* ehFrameHdr, SearchTable& table) {
  auto* header = static_cast<const uint8_t*>(ehFrameHdr);
  if (header == nullptr || header[0] != 1) return false;  // version 1 is the only one
  uint8_t frameEncoding = header[1];
  uint8_t countEncoding = header[2];
  if (header[3] != kTableEncoding || countEncoding == kEncodingOmit) return false;
  // The header is a few bytes followed by the table, whose size the count gives.
  Reader reader(header + 4, header + 4 + 2 * sizeof(uint64_t));
  reader.pointer(frameEncoding, reinterpret_cast<uintptr_t>(header));
  table.count = reader.pointer(countEncoding, reinterpret_cast<uintptr_t>(header));
  table.header = header;
  table.entries = reinterpret_cast<const int32_t*>(reader.position());
  return reader.ok();
}

}  // namespace

bool findFrameRule(const void* ehFrameHdr, uintptr_t address, FrameRule& rule) {
  SearchTable table;
  if (!readSearchTable(ehFrameHdr, table) || table.count == 0 || address < table.start(0)) return false;
  uint64_t low = 0;
  uint64_t high = table.count;  // the answer is the last entry whose start is <= address
  while (high - low > 1) {
    uint64_t middle = low + (high - low) / 2;
    if (table.start(middle) <= address) low = middle; else high = middle;
  }
  Cie cie;
  Fde fde;
  if (!parseFde(table.fde(low), cie, fde) || address < fde.start || address >= fde.end) return false;
  return ruleAt(cie, fde, address, rule, nullptr);
}

bool keepsFramePointers(const void* ehFrameHdr, int probes) {
  SearchTable table;
  if (!readSearchTable(ehFrameHdr, table) || table.count == 0) return false;
  uint64_t examined = 0;
  uint64_t withFramePointer = 0;
  uint64_t step = table.count > static_cast<uint64_t>(probes) ? table.count / probes : 1;
  for (uint64_t i = step / 2; i < table.count; i += step) {
    Cie cie;
    Fde fde;
    FrameRule rule;
    ProgramShape shape;
    // Leaves that never touch the stack say nothing: Node omits their frame pointer too.
    if (!parseFde(table.fde(i), cie, fde) || !ruleAt(cie, fde, UINTPTR_MAX, rule, &shape) || !shape.changesCfa) continue;
    ++examined;
    if (shape.cfaFromFramePointer) ++withFramePointer;
  }
  // Code built without frame pointers uses rbp for the CFA only where it realigns the stack or
  // calls alloca; code built with them does it in nearly every function that has a frame.
  return examined > 0 && withFramePointer * 4 >= examined * 3;
}

}  // namespace allocscope::unwind
