// Bounds-checked reading of a 64-bit ELF image in memory: function symbols and the GNU build id.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "util/private-heap.h"

namespace allocscope::symbolize {

// A function symbol as found in the file: link-time address, not yet moved by the load bias.
// The name stays in the image rather than being copied: /usr/bin/node's function names alone
// take 11 MB. 24 bytes, because node has 150,000 of these.
struct FunctionSymbol {
  uint64_t value;
  uint32_t size;        // st_size, saturated: no function is 4 GiB long
  uint32_t nameOffset;  // offset of the name in the image
  uint32_t nameLength;  // without any "@VERSION" suffix, and not NUL-terminated in that case
  uint8_t binding;      // STB_*
  uint8_t type;         // STT_FUNC or STT_GNU_IFUNC
};

// A view of an ELF file's bytes (a mapped file, or the vdso's image in memory). The bytes are
// not trusted: every offset and count read from them is checked against the view's size, and
// nothing is read through a cast pointer, because a damaged file may misalign anything.
class ElfImage {
 public:
  ElfImage(const uint8_t* data, size_t size);

  // True when the header is that of a little-endian ELF64 file with the expected entry sizes.
  bool valid() const { return d_valid; }

  const uint8_t* data() const { return d_data; }
  size_t size() const { return d_size; }

  // Appends the defined, named STT_FUNC and STT_GNU_IFUNC symbols with a nonzero value from
  // .symtab, or from .dynsym when there is no .symtab with any (a stripped file). Unsorted.
  // Names past the first 4 GiB of the image are not representable, and such symbols are left out.
  void readFunctionSymbols(util::PrivateVector<FunctionSymbol>* symbols) const;

  // The program headers that lie inside the image; empty when the table is damaged.
  std::vector<Elf64_Phdr> programHeaders() const;

  // The NT_GNU_BUILD_ID note of the PT_NOTE segments, at their file offsets, as lowercase hex.
  std::string buildId() const;

 private:
  template <typename T>
  bool read(uint64_t offset, T* out) const;
  uint64_t sectionCount() const;
  bool section(uint64_t index, Elf64_Shdr* out) const;
  // Appends from the symbol section at index; returns how many symbols were appended.
  size_t readSymbolSection(const Elf64_Shdr& symbols, util::PrivateVector<FunctionSymbol>* out) const;

  const uint8_t* d_data;
  size_t d_size;
  Elf64_Ehdr d_header{};
  bool d_valid = false;
};

// Finds NT_GNU_BUILD_ID in a note segment of size bytes whose entries are aligned to align
// (4 or 8, from p_align); returns its descriptor as lowercase hex, "" when there is none.
std::string buildIdFromNotes(const uint8_t* notes, size_t size, uint64_t align);

}  // namespace allocscope::symbolize
