// Snapshots the loaded ELF objects and resolves pcs to function symbols read once per object.
#include "symbolize/symbolizer.h"

#include <cxxabi.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "symbolize/elf-image.h"

namespace allocscope::symbolize {

namespace {

// A read-only private mapping of a whole regular file; empty when the file cannot be mapped.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    // O_NONBLOCK: if the path now names a FIFO, opening it must not wait for a writer.
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return;
    struct stat status;
    if (fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0) {
      const size_t size = static_cast<size_t>(status.st_size);
      void* data = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (data != MAP_FAILED) {
        d_data = static_cast<const uint8_t*>(data);
        d_size = size;
      }
    }
    close(fd);
  }
  ~MappedFile() {
    if (d_data) munmap(const_cast<uint8_t*>(d_data), d_size);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return d_data; }
  size_t size() const { return d_size; }

  // releasePages drops the file's pages from this process's resident set. They stay in the
  // page cache, and a later read faults back in what it touches.
  void releasePages() const {
    if (d_data) madvise(const_cast<uint8_t*>(d_data), d_size, MADV_DONTNEED);
  }

 private:
  const uint8_t* d_data = nullptr;
  size_t d_size = 0;
};

}  // namespace

// The function symbols of one object, sorted by link-time address. Among symbols at the same
// address (aliases such as malloc and __libc_malloc) the preferred name sorts last, because a
// lookup lands on the last symbol at or below the pc.
struct ObjectSymbols {
  // Keeps the file mapped while symbols point into it: names are read from the page cache only
  // for the few functions looked up. Null for the vdso, whose image is always mapped.
  std::unique_ptr<MappedFile> file;
  const char* image = nullptr;  // the bytes that FunctionSymbol::nameOffset counts from
  util::PrivateVector<FunctionSymbol> symbols;
  // maxEnd[i] is the highest value + size among symbols[0..i]: the walk back for a symbol that
  // encloses the pc stops as soon as no earlier symbol can reach it.
  util::PrivateVector<uint64_t> maxEnd;
  // Demangled names by symbol index: the same few hot functions are looked up over and over.
  util::PrivateHashMap<uint32_t, util::PrivateString> demangled;

  std::string_view name(const FunctionSymbol& symbol) const {
    return std::string_view(image + symbol.nameOffset, symbol.nameLength);
  }
};

namespace {

// A symbol without a size (hand-written assembly) still names code this far after its start.
constexpr uint64_t kMaxUnsizedReach = 64 * 1024;
// Bounds the walk back through overlapping symbols, in case a damaged table has huge sizes.
constexpr size_t kMaxEnclosingScan = 256;

uintptr_t pageSize() {
  static const uintptr_t size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::string selfExePath() {
  char buffer[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer));  // no NUL appended
  if (length <= 0 || static_cast<size_t>(length) >= sizeof(buffer)) return std::string();
  return std::string(buffer, static_cast<size_t>(length));
}

// Called with the loader's lock held: only records what the program headers say, and leaves
// path lookups on the file system for after the walk.
int collectObject(dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<std::vector<LoadedObject>*>(data);
  const uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  const uintptr_t bias = info->dlpi_addr;
  bool isVdso = false;
  std::string buildId;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type == PT_LOAD && header.p_offset == 0 && vdso != 0 &&
        bias + header.p_vaddr == vdso) {
      isVdso = true;
    }
    if (header.p_type != PT_NOTE || !buildId.empty()) continue;
    // Read the note in memory only where a PT_LOAD maps it from the file, so that a damaged
    // header cannot send the read to an unmapped address.
    for (int j = 0; j < info->dlpi_phnum; ++j) {
      const ElfW(Phdr)& load = info->dlpi_phdr[j];
      if (load.p_type == PT_LOAD && header.p_vaddr >= load.p_vaddr &&
          header.p_filesz <= load.p_filesz &&
          header.p_vaddr - load.p_vaddr <= load.p_filesz - header.p_filesz) {
        buildId = buildIdFromNotes(reinterpret_cast<const uint8_t*>(bias + header.p_vaddr),
                                   header.p_filesz, header.p_align);
        break;
      }
    }
  }
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info->dlpi_phdr[i];
    if (header.p_type != PT_LOAD || (header.p_flags & PF_X) == 0 || header.p_memsz == 0) continue;
    uintptr_t begin = bias + header.p_vaddr;
    uintptr_t start = begin & ~(pageSize() - 1);
    uintptr_t slack = begin - start;
    out->push_back({isVdso ? "[vdso]" : name, start, begin + header.p_memsz,
                    header.p_offset >= slack ? header.p_offset - slack : 0, bias, buildId});
  }
  return 0;
}

// The vdso has no file; the kernel maps its whole ELF image from the page of the ELF header on.
// Its section headers come after the one PT_LOAD's p_filesz, but within its last page.
void readVdsoSymbols(const LoadedObject& object, ObjectSymbols* table) {
  const uintptr_t header = getauxval(AT_SYSINFO_EHDR);
  if (header == 0) return;
  // Until the program headers say more, only the page holding the ELF header is known mapped.
  ElfImage firstPage(reinterpret_cast<const uint8_t*>(header), pageSize());
  for (const Elf64_Phdr& load : firstPage.programHeaders()) {
    if (load.p_type != PT_LOAD || load.p_offset != 0 || object.loadBias + load.p_vaddr != header ||
        load.p_memsz == 0 || load.p_memsz > (uint64_t{1} << 30)) {
      continue;
    }
    // The segment's pages are mapped whole: read up to the end of its last page.
    const uint64_t mapped = (load.p_memsz + pageSize() - 1) & ~uint64_t{pageSize() - 1};
    ElfImage image(reinterpret_cast<const uint8_t*>(header), mapped);
    image.readFunctionSymbols(&table->symbols);
    table->image = reinterpret_cast<const char*>(image.data());
    return;
  }
}

void readFileSymbols(const LoadedObject& object, ObjectSymbols* table) {
  std::vector<std::string> candidates{object.path};
  // /proc/self/exe still opens the main program after its file was deleted or replaced.
  if (object.path == selfExePath()) candidates.push_back("/proc/self/exe");
  for (const std::string& path : candidates) {
    auto file = std::make_unique<MappedFile>(path);
    ElfImage image(file->data(), file->size());
    if (!image.valid()) continue;
    // A different build id means the path now holds another file than the one loaded (a
    // package upgrade while the process runs); its symbols would name the wrong functions.
    if (!object.buildId.empty() && image.buildId() != object.buildId) continue;
    image.readFunctionSymbols(&table->symbols);
    if (table->symbols.empty()) return;
    table->image = reinterpret_cast<const char*>(image.data());
    table->file = std::move(file);
    return;
  }
}

int bindingRank(uint8_t binding) {
  switch (binding) {
    case STB_GLOBAL:
    case STB_GNU_UNIQUE:
      return 2;
    case STB_WEAK:
      return 1;
    default:
      return 0;
  }
}

int leadingUnderscores(std::string_view name) {
  size_t count = name.find_first_not_of('_');
  return static_cast<int>(count == std::string_view::npos ? name.size() : count);
}

void sortSymbols(ObjectSymbols* table) {
  // Among aliases, prefer a sized symbol, a plain function over an ifunc resolver, a global
  // name over a local one, and "malloc" over "__libc_malloc"; the name decides ties so that
  // the choice does not depend on the order of the symbol table.
  auto preference = [table](const FunctionSymbol& symbol) {
    return std::make_tuple(symbol.size != 0, symbol.type == STT_FUNC, bindingRank(symbol.binding),
                           -leadingUnderscores(table->name(symbol)));
  };
  std::sort(table->symbols.begin(), table->symbols.end(),
            [&](const FunctionSymbol& a, const FunctionSymbol& b) {
              if (a.value != b.value) return a.value < b.value;
              auto rankA = preference(a), rankB = preference(b);
              if (rankA != rankB) return rankA < rankB;
              return table->name(a) > table->name(b);
            });
  table->maxEnd.resize(table->symbols.size());
  uint64_t maxEnd = 0;
  for (size_t i = 0; i < table->symbols.size(); ++i) {
    const FunctionSymbol& symbol = table->symbols[i];
    uint64_t end = symbol.value + symbol.size;
    if (end < symbol.value) end = UINT64_MAX;  // a damaged size must not wrap around
    maxEnd = std::max(maxEnd, end);
    table->maxEnd[i] = maxEnd;
  }
}

// Index of the symbol naming address (link-time), or -1.
ptrdiff_t findSymbol(const ObjectSymbols& table, uint64_t address, uint64_t lowestValue) {
  const auto& symbols = table.symbols;
  auto above = std::upper_bound(
      symbols.begin(), symbols.end(), address,
      [](uint64_t value, const FunctionSymbol& symbol) { return value < symbol.value; });
  if (above == symbols.begin()) return -1;
  const ptrdiff_t nearest = (above - symbols.begin()) - 1;
  // Functions may overlap (an assembly entry point inside another function, as in glibc's
  // memmove/memcpy): the innermost, latest-starting symbol that contains the pc wins.
  for (ptrdiff_t i = nearest, scanned = 0;
       i >= 0 && table.maxEnd[i] > address && scanned < static_cast<ptrdiff_t>(kMaxEnclosingScan);
       --i, ++scanned) {
    if (address - symbols[i].value < symbols[i].size) return i;
  }
  const FunctionSymbol& candidate = symbols[nearest];
  if (candidate.size == 0 && address - candidate.value < kMaxUnsizedReach &&
      candidate.value >= lowestValue) {
    return nearest;
  }
  return -1;
}

const util::PrivateString& demangledName(ObjectSymbols& table, uint32_t index) {
  auto cached = table.demangled.find(index);
  if (cached != table.demangled.end()) return cached->second;
  // A copy, because the demangler needs a NUL where the name in the file may have "@VERSION".
  std::string result(table.name(table.symbols[index]));
  // Only "_Z" names are mangled C++ functions: given "i" or "f", the demangler would happily
  // return the type names "int" or "float" for what are plain C functions.
  if (result.starts_with("_Z")) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(result.c_str(), nullptr, nullptr, &status);
    if (status == 0 && demangled) result = demangled;
    std::free(demangled);
  }
  return table.demangled.emplace(index, util::PrivateString(result)).first->second;
}

}  // namespace

std::vector<LoadedObject> loadedObjects() {
  std::vector<LoadedObject> objects;
  dl_iterate_phdr(collectObject, &objects);
  std::string exe;
  for (LoadedObject& object : objects) {
    if (object.path.empty()) {
      // The main program is the object that the loader names "".
      if (exe.empty()) exe = selfExePath();
      object.path = exe;
    } else if (object.path[0] != '/' && object.path != "[vdso]") {
      // dlopen keeps a relative path as given; it is relative to the current directory.
      if (char* resolved = realpath(object.path.c_str(), nullptr)) {
        object.path = resolved;
        std::free(resolved);
      }
    }
  }
  std::sort(objects.begin(), objects.end(),
            [](const LoadedObject& a, const LoadedObject& b) { return a.start < b.start; });
  return objects;
}

Symbolizer::Symbolizer(std::vector<LoadedObject> objects) : d_objects(std::move(objects)) {
  std::sort(d_objects.begin(), d_objects.end(),
            [](const LoadedObject& a, const LoadedObject& b) { return a.start < b.start; });
  d_tableOf.assign(d_objects.size(), -1);
}

Symbolizer::~Symbolizer() = default;
Symbolizer::Symbolizer(Symbolizer&&) noexcept = default;
Symbolizer& Symbolizer::operator=(Symbolizer&&) noexcept = default;

const std::vector<LoadedObject>& Symbolizer::objects() const { return d_objects; }

ObjectSymbols& Symbolizer::symbolsOf(size_t index) {
  if (d_tableOf[index] >= 0) return *d_tables[d_tableOf[index]];
  const LoadedObject& object = d_objects[index];
  for (size_t other = 0; other < d_objects.size(); ++other) {
    if (d_tableOf[other] >= 0 && d_objects[other].path == object.path &&
        d_objects[other].loadBias == object.loadBias) {
      d_tableOf[index] = d_tableOf[other];
      return *d_tables[d_tableOf[index]];
    }
  }
  auto table = std::make_unique<ObjectSymbols>();
  if (object.path == "[vdso]") {
    readVdsoSymbols(object, table.get());
  } else {
    readFileSymbols(object, table.get());
  }
  sortSymbols(table.get());
  // Reading and sorting the symbols touched the whole symbol and string tables (10 MiB for
  // /usr/bin/node), which would otherwise count in the host's RSS for as long as it runs.
  if (table->file) table->file->releasePages();
  d_tableOf[index] = static_cast<int32_t>(d_tables.size());
  d_tables.push_back(std::move(table));
  return *d_tables.back();
}

void Symbolizer::releasePages() {
  for (const auto& table : d_tables) {
    if (table->file) table->file->releasePages();
  }
}

Frame Symbolizer::lookup(uintptr_t pc) {
  Frame frame{nullptr, std::string(), 0};
  auto above = std::upper_bound(
      d_objects.begin(), d_objects.end(), pc,
      [](uintptr_t value, const LoadedObject& object) { return value < object.start; });
  if (above == d_objects.begin()) return frame;
  const LoadedObject& object = *(above - 1);
  if (pc >= object.limit) return frame;
  frame.object = &object;

  ObjectSymbols& table = symbolsOf(static_cast<size_t>(above - 1 - d_objects.begin()));
  // Symbols hold link-time addresses; the load bias moves them to where the object sits now.
  // An unsized symbol must not lend its name across the start of this segment.
  const uint64_t address = pc - object.loadBias;
  const uint64_t lowestValue = object.start - object.loadBias;
  ptrdiff_t index = findSymbol(table, address, lowestValue);
  if (index < 0) return frame;
  frame.function = demangledName(table, static_cast<uint32_t>(index));
  frame.functionStart = table.symbols[index].value + object.loadBias;
  return frame;
}

}  // namespace allocscope::symbolize
