// Parses section headers, symbol tables and notes of an untrusted ELF64 image without overreading.
#include "symbolize/elf-image.h"

#include <algorithm>
#include <cstring>

namespace allocscope::symbolize {

namespace {

// True when [offset, offset + length) lies inside a buffer of size bytes; never overflows.
bool inBounds(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

uint64_t alignUp(uint64_t value, uint64_t align) {
  return (value + align - 1) & ~(align - 1);
}

}  // namespace

ElfImage::ElfImage(const uint8_t* data, size_t size) : d_data(data), d_size(size) {
  if (data == nullptr || !read(0, &d_header)) return;
  const unsigned char* ident = d_header.e_ident;
  d_valid = std::memcmp(ident, ELFMAG, SELFMAG) == 0 && ident[EI_CLASS] == ELFCLASS64 &&
            ident[EI_DATA] == ELFDATA2LSB;
}

template <typename T>
bool ElfImage::read(uint64_t offset, T* out) const {
  if (!inBounds(offset, sizeof(T), d_size)) return false;
  std::memcpy(out, d_data + offset, sizeof(T));
  return true;
}

uint64_t ElfImage::sectionCount() const {
  if (d_header.e_shoff == 0 || d_header.e_shentsize != sizeof(Elf64_Shdr)) return 0;
  if (d_header.e_shnum != 0) return d_header.e_shnum;
  // With 0xff00 sections or more, e_shnum is 0 and section 0's sh_size holds the count.
  Elf64_Shdr first;
  if (!read(d_header.e_shoff, &first)) return 0;
  return first.sh_size;
}

bool ElfImage::section(uint64_t index, Elf64_Shdr* out) const {
  if (index >= sectionCount() || index >= d_size / sizeof(Elf64_Shdr)) return false;
  return read(d_header.e_shoff + index * sizeof(Elf64_Shdr), out);
}

void ElfImage::readFunctionSymbols(util::PrivateVector<FunctionSymbol>* symbols) const {
  if (!d_valid) return;
  uint64_t count = sectionCount();
  // A count larger than the file can hold is damage; the per-section reads would fail anyway,
  // but stopping here saves looping over billions of indexes.
  if (count > d_size / sizeof(Elf64_Shdr) ||
      !inBounds(d_header.e_shoff, count * sizeof(Elf64_Shdr), d_size)) {
    return;
  }
  // .symtab is a superset of .dynsym (it adds local and hidden functions), so .dynsym is only
  // read when no .symtab yields anything.
  for (uint32_t wanted : {SHT_SYMTAB, SHT_DYNSYM}) {
    size_t found = 0;
    for (uint64_t i = 0; i < count; ++i) {
      Elf64_Shdr header;
      if (section(i, &header) && header.sh_type == wanted) {
        found += readSymbolSection(header, symbols);
      }
    }
    if (found > 0) return;
  }
}

size_t ElfImage::readSymbolSection(const Elf64_Shdr& table,
                                   util::PrivateVector<FunctionSymbol>* out) const {
  Elf64_Shdr strings;
  if (table.sh_entsize != sizeof(Elf64_Sym) || !inBounds(table.sh_offset, table.sh_size, d_size) ||
      !section(table.sh_link, &strings) || strings.sh_type != SHT_STRTAB ||
      !inBounds(strings.sh_offset, strings.sh_size, d_size)) {
    return 0;
  }
  const char* stringData = reinterpret_cast<const char*>(d_data + strings.sh_offset);
  uint64_t symbolCount = table.sh_size / sizeof(Elf64_Sym);
  // One allocation, not a doubling series of copies (node's .symtab holds ~110,000 entries). The
  // pages reserved for entries that are not functions are never touched.
  out->reserve(out->size() + symbolCount);
  size_t appended = 0;
  for (uint64_t i = 0; i < symbolCount; ++i) {
    Elf64_Sym symbol;
    std::memcpy(&symbol, d_data + table.sh_offset + i * sizeof(Elf64_Sym), sizeof(symbol));
    uint8_t type = ELF64_ST_TYPE(symbol.st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || symbol.st_value == 0 ||
        symbol.st_shndx == SHN_UNDEF || symbol.st_name >= strings.sh_size) {
      continue;
    }
    const char* name = stringData + symbol.st_name;
    uint64_t room = strings.sh_size - symbol.st_name;
    const void* end = std::memchr(name, '\0', room);
    size_t length = end ? static_cast<size_t>(static_cast<const char*>(end) - name) : room;
    // The static linker leaves "name@VERSION" or "name@@VERSION" for versioned definitions in
    // .symtab; neither C nor mangled C++ names contain '@', and the demangler rejects it.
    const void* at = std::memchr(name, '@', length);
    if (at) length = static_cast<size_t>(static_cast<const char*>(at) - name);
    const uint64_t nameOffset = strings.sh_offset + symbol.st_name;
    if (length == 0 || nameOffset > UINT32_MAX || length > UINT32_MAX) continue;

    const uint32_t size = static_cast<uint32_t>(std::min<uint64_t>(symbol.st_size, UINT32_MAX));
    const uint8_t binding = static_cast<uint8_t>(ELF64_ST_BIND(symbol.st_info));
    out->push_back({symbol.st_value, size, static_cast<uint32_t>(nameOffset),
                    static_cast<uint32_t>(length), binding, type});
    ++appended;
  }
  return appended;
}

std::vector<Elf64_Phdr> ElfImage::programHeaders() const {
  std::vector<Elf64_Phdr> headers;
  if (!d_valid || d_header.e_phentsize != sizeof(Elf64_Phdr)) return headers;
  for (uint64_t i = 0; i < d_header.e_phnum; ++i) {
    Elf64_Phdr header;
    if (!read(d_header.e_phoff + i * sizeof(Elf64_Phdr), &header)) return {};
    headers.push_back(header);
  }
  return headers;
}

std::string ElfImage::buildId() const {
  for (const Elf64_Phdr& header : programHeaders()) {
    if (header.p_type != PT_NOTE || !inBounds(header.p_offset, header.p_filesz, d_size)) continue;
    std::string id = buildIdFromNotes(d_data + header.p_offset, header.p_filesz, header.p_align);
    if (!id.empty()) return id;
  }
  return std::string();
}

std::string buildIdFromNotes(const uint8_t* notes, size_t size, uint64_t align) {
  // Notes are 4-aligned except in segments declared 8-aligned (.note.gnu.property).
  align = align == 8 ? 8 : 4;
  static const char kHex[] = "0123456789abcdef";
  uint64_t offset = 0;
  while (inBounds(offset, sizeof(Elf64_Nhdr), size)) {
    Elf64_Nhdr note;
    std::memcpy(&note, notes + offset, sizeof(note));
    uint64_t nameOffset = offset + sizeof(note);
    uint64_t descOffset = alignUp(nameOffset + note.n_namesz, align);
    if (!inBounds(nameOffset, note.n_namesz, size) || !inBounds(descOffset, note.n_descsz, size)) {
      break;
    }
    if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
        std::memcmp(notes + nameOffset, "GNU", 4) == 0 && note.n_descsz > 0) {
      std::string hex;
      hex.reserve(note.n_descsz * 2);
      for (uint64_t i = 0; i < note.n_descsz; ++i) {
        uint8_t byte = notes[descOffset + i];
        hex.push_back(kHex[byte >> 4]);
        hex.push_back(kHex[byte & 15]);
      }
      return hex;
    }
    offset = alignUp(descOffset + note.n_descsz, align);
  }
  return std::string();
}

}  // namespace allocscope::symbolize
