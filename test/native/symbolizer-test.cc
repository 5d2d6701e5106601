// Standalone checks of native/symbolize against this process's own objects and damaged ELF files.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "symbolize/elf-image.h"
#include "symbolize/symbolizer.h"

using allocscope::symbolize::ElfImage;
using allocscope::symbolize::Frame;
using allocscope::symbolize::FunctionSymbol;
using allocscope::symbolize::LoadedObject;
using allocscope::symbolize::Symbolizer;

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool condition, const std::string& description) {
  int number = g_passed + g_failed + 1;
  std::printf("%sok %d - %s\n", condition ? "" : "not ", number, description.c_str());
  (condition ? g_passed : g_failed)++;
}

void note(const std::string& text) { std::printf("# %s\n", text.c_str()); }

std::string baseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string selfExe() {
  char buffer[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer));
  return length > 0 ? std::string(buffer, static_cast<size_t>(length)) : std::string();
}

std::vector<uint8_t> readFile(const std::string& path, size_t limit = SIZE_MAX) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes;
  char chunk[65536];
  while (in && bytes.size() < limit) {
    in.read(chunk, static_cast<std::streamsize>(std::min(sizeof(chunk), limit - bytes.size())));
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  }
  return bytes;
}

bool writeFile(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return static_cast<bool>(out);
}

bool isLowerHex(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  using Milliseconds = std::chrono::duration<double, std::milli>;
  return Milliseconds(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

namespace {

__attribute__((noinline)) int anonymousHelper(int value) {
  asm volatile("" : "+r"(value));
  return value * 3 + 1;
}

}  // namespace

namespace allocscope_test {

struct Widget {
  __attribute__((noinline)) static long create(int seed) {
    asm volatile("" : "+r"(seed));
    return seed * 7L;
  }
};

}  // namespace allocscope_test

// Returns the address main will return to: a pc inside main, as a stack walk would see it.
__attribute__((noinline)) uintptr_t callerPc() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  asm volatile("" : "+r"(pc));
  return pc;
}

namespace {

const LoadedObject* findObject(const std::vector<LoadedObject>& objects, uintptr_t pc) {
  for (const LoadedObject& object : objects) {
    if (pc >= object.start && pc < object.limit) return &object;
  }
  return nullptr;
}

void testLoadedObjects(const std::vector<LoadedObject>& objects) {
  check(!objects.empty(), "loadedObjects() finds objects");
  bool sorted = true, nonEmpty = true, pathsAbsolute = true, aligned = true;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (size_t i = 0; i < objects.size(); ++i) {
    const LoadedObject& object = objects[i];
    if (object.start >= object.limit) nonEmpty = false;
    if (i > 0 && objects[i - 1].limit > object.start) sorted = false;
    if (object.path.empty() || (object.path[0] != '/' && object.path != "[vdso]")) {
      pathsAbsolute = false;
    }
    if (object.start % page != 0 || object.fileOffset % page != 0) aligned = false;
    char range[128];
    std::snprintf(range, sizeof(range), " %#zx-%#zx offset %#llx bias %#zx buildId ",
                  static_cast<size_t>(object.start), static_cast<size_t>(object.limit),
                  static_cast<unsigned long long>(object.fileOffset),
                  static_cast<size_t>(object.loadBias));
    note(object.path + range + object.buildId);
  }
  check(sorted, "loadedObjects() is sorted by start and non-overlapping");
  check(nonEmpty, "every object has start < limit");
  check(pathsAbsolute, "every path is absolute or [vdso]");
  check(aligned, "start and fileOffset are page aligned");

  const std::string exe = selfExe();
  bool hasExe = false, hasLibc = false, hasVdso = false;
  for (const LoadedObject& object : objects) {
    hasExe |= object.path == exe;
    hasLibc |= baseName(object.path) == "libc.so.6";
    hasVdso |= object.path == "[vdso]";
  }
  check(hasExe, "loadedObjects() includes the main program as " + exe);
  check(hasLibc, "loadedObjects() includes libc.so.6");
  if (getauxval(AT_SYSINFO_EHDR) != 0) check(hasVdso, "loadedObjects() includes [vdso]");
}

// inMain is a return address into main, taken there: called from here it would point into this
// function, unless the compiler inlined this one into main.
void testOwnFunctions(Symbolizer& symbolizer, uintptr_t inMain) {
  const std::string exe = selfExe();

  Frame frame = symbolizer.lookup(inMain);
  check(frame.object != nullptr && frame.object->path == exe,
        "return address in main is in the main program's object");
  check(frame.function == "main", "return address in main resolves to main (got \"" +
                                      frame.function + "\")");
  check(frame.functionStart != 0 && frame.functionStart < inMain,
        "main's functionStart precedes the return address");

  const uintptr_t anonymous = reinterpret_cast<uintptr_t>(&anonymousHelper);
  frame = symbolizer.lookup(anonymous);
  check(frame.function == "(anonymous namespace)::anonymousHelper(int)",
        "anonymous-namespace function demangles (got \"" + frame.function + "\")");
  check(frame.functionStart == anonymous, "anonymous-namespace functionStart is its address");
  frame = symbolizer.lookup(anonymous + 2);
  check(frame.function == "(anonymous namespace)::anonymousHelper(int)" &&
            frame.functionStart == anonymous,
        "a pc inside the function resolves to the same function");

  const uintptr_t create = reinterpret_cast<uintptr_t>(&allocscope_test::Widget::create);
  frame = symbolizer.lookup(create);
  check(frame.function == "allocscope_test::Widget::create(int)",
        "named-namespace member demangles (got \"" + frame.function + "\")");

  const uintptr_t plainC = reinterpret_cast<uintptr_t>(&callerPc);
  frame = symbolizer.lookup(plainC);
  check(frame.function == "callerPc()", "global C++ function demangles (got \"" + frame.function +
                                            "\")");
}

void testLibc(Symbolizer& symbolizer) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  void* mallocAddress = libc ? dlsym(libc, "malloc") : nullptr;
  check(mallocAddress != nullptr, "dlsym finds libc's malloc");
  if (!mallocAddress) return;
  const uintptr_t pc = reinterpret_cast<uintptr_t>(mallocAddress);
  Frame frame = symbolizer.lookup(pc);
  check(frame.object != nullptr && baseName(frame.object->path) == "libc.so.6",
        "malloc is in libc.so.6's object (" + (frame.object ? frame.object->path : "none") + ")");
  check(frame.object != nullptr && isLowerHex(frame.object->buildId) &&
            frame.object->buildId.size() == 40,
        "libc.so.6 has a 20-byte lowercase-hex build id (" +
            (frame.object ? frame.object->buildId : "") + ")");
  check(frame.function == "malloc" || frame.function == "__libc_malloc",
        "libc's malloc resolves to malloc (got \"" + frame.function + "\")");
  check(frame.functionStart == pc, "malloc's functionStart is its address");

  if (frame.object) {
    // The build id read from the loaded image must be the one in the file on disk.
    std::vector<uint8_t> bytes = readFile(frame.object->path);
    ElfImage image(bytes.data(), bytes.size());
    check(image.buildId() == frame.object->buildId, "libc's build id in memory matches its file");

    // A build id that does not match the file means the file was replaced: no symbols.
    LoadedObject replaced = *frame.object;
    replaced.buildId = std::string(40, '0');
    Symbolizer mismatched({replaced});
    Frame stale = mismatched.lookup(pc);
    check(stale.object != nullptr && stale.function.empty() && stale.functionStart == 0,
          "a file whose build id differs from the loaded one gives no names");
  }
  dlclose(libc);
}

void testUnmapped(Symbolizer& symbolizer) {
  const size_t size = 1 << 20;
  void* region = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  check(region != MAP_FAILED, "anonymous mmap succeeds");
  if (region == MAP_FAILED) return;
  Frame frame = symbolizer.lookup(reinterpret_cast<uintptr_t>(region) + size / 2);
  check(frame.object == nullptr && frame.function.empty() && frame.functionStart == 0,
        "a pc in an anonymous mmap region has no object");
  munmap(region, size);
  check(symbolizer.lookup(0).object == nullptr, "pc 0 has no object");
  check(symbolizer.lookup(UINTPTR_MAX).object == nullptr, "pc UINTPTR_MAX has no object");
  Symbolizer empty({});
  check(empty.lookup(reinterpret_cast<uintptr_t>(&anonymousHelper)).object == nullptr,
        "a Symbolizer without objects resolves nothing");
}

void testVdso(Symbolizer& symbolizer) {
  const LoadedObject* vdso = nullptr;
  for (const LoadedObject& object : symbolizer.objects()) {
    if (object.path == "[vdso]") vdso = &object;
  }
  if (!vdso) {
    note("no [vdso] mapped; skipping vdso checks");
    return;
  }
  std::string found;
  bool consistent = true;
  for (uintptr_t pc = vdso->start; pc < vdso->limit; pc += 4) {
    Frame frame = symbolizer.lookup(pc);
    if (frame.object != vdso) consistent = false;
    if (frame.function.empty()) continue;
    if (found.empty()) found = frame.function;
    if (frame.functionStart > pc || frame.functionStart < vdso->start) consistent = false;
  }
  check(consistent, "every pc in [vdso] maps to it with a sane functionStart");
  check(found.find("time") != std::string::npos || found.find("getcpu") != std::string::npos,
        "[vdso] symbols are read from memory (first: \"" + found + "\")");
}

// Symbolizers over objects whose files are missing, damaged or not files at all.
void testOddFiles(const std::string& scratch, const LoadedObject& libcObject) {
  std::vector<uint8_t> libc = readFile(libcObject.path);
  check(libc.size() > 4096, "read libc.so.6 from disk for damage tests");

  std::vector<std::pair<std::string, std::string>> cases;  // path, description
  cases.push_back({scratch + "/does-not-exist.so", "missing file"});
  cases.push_back({"/", "a directory"});
  cases.push_back({"/proc/self/status", "a proc file of size 0"});
  cases.push_back({scratch + "/empty.so", "an empty file"});
  writeFile(scratch + "/empty.so", nullptr, 0);
  const std::string fifo = scratch + "/fifo.so";
  mkfifo(fifo.c_str(), 0600);
  cases.push_back({fifo, "a FIFO (must not block)"});
  const char text[] = "this is not an ELF file\n";
  writeFile(scratch + "/text.so", reinterpret_cast<const uint8_t*>(text), sizeof(text));
  cases.push_back({scratch + "/text.so", "a text file"});
  for (size_t size : {size_t{4}, size_t{63}, size_t{64}, size_t{200}, libc.size() / 2,
                      libc.size() - 1}) {
    std::string path = scratch + "/truncated-" + std::to_string(size) + ".so";
    writeFile(path, libc.data(), size);
    cases.push_back({path, "libc truncated to " + std::to_string(size) + " bytes"});
  }
  std::vector<uint8_t> noSections = libc;
  std::memset(noSections.data() + offsetof(Elf64_Ehdr, e_shoff), 0, sizeof(Elf64_Off));
  writeFile(scratch + "/no-sections.so", noSections.data(), noSections.size());
  cases.push_back({scratch + "/no-sections.so", "libc without section headers"});

  for (const auto& [path, description] : cases) {
    LoadedObject object = libcObject;
    object.path = path;
    object.buildId.clear();  // so that the damaged file is parsed, not rejected by build id
    Symbolizer symbolizer({object});
    bool sane = true;
    for (uintptr_t pc = object.start; pc < object.limit; pc += (object.limit - object.start) / 97) {
      Frame frame = symbolizer.lookup(pc);
      if (frame.object == nullptr || (frame.function.empty() != (frame.functionStart == 0))) {
        sane = false;
      }
    }
    check(sane, "no crash and consistent frames for " + description);
  }

  // The deleted-file case: the path no longer exists, as after an upgrade removed it.
  LoadedObject deleted = libcObject;
  deleted.path += " (deleted)";
  Symbolizer afterDelete({deleted});
  check(afterDelete.lookup(libcObject.start).function.empty(),
        "a deleted file gives no names and no crash");
}

// Random damage to the ELF header, section headers, notes and symbol table of a real file, parsed
// from exactly-sized heap buffers so that AddressSanitizer reports any read past their end.
void testFuzz(const LoadedObject& libcObject) {
  std::vector<uint8_t> work = readFile(libcObject.path);
  work.shrink_to_fit();
  Elf64_Ehdr header;
  std::memcpy(&header, work.data(), sizeof(header));
  // Where the symbol table is, so that its entries (names, values, sizes) get damaged too.
  uint64_t symbolsOffset = 0, symbolsSize = 0;
  for (uint64_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr section;
    std::memcpy(&section, work.data() + header.e_shoff + i * sizeof(section), sizeof(section));
    if (section.sh_type == SHT_DYNSYM) {
      symbolsOffset = section.sh_offset;
      symbolsSize = section.sh_size;
    }
  }
  std::mt19937_64 random(12345);
  bool namesInRange = true;
  size_t symbolsSeen = 0;
  const int rounds = 3000;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::pair<uint64_t, uint8_t>> undo;
    int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits; ++e) {
      uint64_t where;
      switch (random() % 4) {
        case 0:  // the ELF header
          where = random() % sizeof(Elf64_Ehdr);
          break;
        case 1:  // the section header table
          where = header.e_shoff + random() % (header.e_shnum * sizeof(Elf64_Shdr));
          break;
        case 2:  // the program headers and notes
          where = header.e_phoff + random() % 0x400;
          break;
        default:  // the symbol table's entries
          where = symbolsOffset + (symbolsSize ? random() % symbolsSize : 0);
      }
      if (where >= work.size()) continue;
      undo.emplace_back(where, work[where]);
      work[where] = static_cast<uint8_t>(random());
    }
    size_t size = random() % 8 == 0 ? random() % work.size() : work.size();
    std::vector<uint8_t> cut;
    if (size != work.size()) cut.assign(work.begin(), work.begin() + static_cast<ptrdiff_t>(size));
    ElfImage image(cut.empty() ? work.data() : cut.data(), size);
    allocscope::util::PrivateVector<FunctionSymbol> symbols;
    image.readFunctionSymbols(&symbols);
    for (const FunctionSymbol& symbol : symbols) {
      if (uint64_t{symbol.nameOffset} + symbol.nameLength > size) namesInRange = false;
    }
    symbolsSeen += symbols.size();
    (void)image.buildId();
    (void)image.programHeaders();
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) work[it->first] = it->second;
  }
  note("fuzz: " + std::to_string(symbolsSeen) + " symbols read from damaged copies");
  check(namesInRange && symbolsSeen > 0,
        "3000 randomly damaged copies of libc parse without overreads");

  std::vector<uint8_t> notes(64, 0xff);
  check(allocscope::symbolize::buildIdFromNotes(notes.data(), notes.size(), 4).empty(),
        "a note segment with absurd sizes yields no build id");
}

// /usr/bin/node's .symtab (Debian does not strip it) as if node were loaded at its link-time
// addresses: the Symbolizer only reads the file, so this measures the large-table case.
void testNodeBinary() {
  const std::string path = "/usr/bin/node";
  std::vector<uint8_t> head = readFile(path, 65536);
  ElfImage image(head.data(), head.size());
  if (!image.valid()) {
    note("no readable /usr/bin/node; skipping the large-symtab checks");
    return;
  }
  Elf64_Ehdr header;
  std::memcpy(&header, head.data(), sizeof(header));
  if (header.e_type != ET_EXEC) {
    note("/usr/bin/node is position independent; skipping the large-symtab checks");
    return;
  }
  std::vector<LoadedObject> objects;
  for (const Elf64_Phdr& load : image.programHeaders()) {
    if (load.p_type != PT_LOAD || (load.p_flags & PF_X) == 0) continue;
    uintptr_t start = load.p_vaddr & ~uintptr_t{4095};
    objects.push_back({path, start, load.p_vaddr + load.p_memsz,
                       load.p_offset - (load.p_vaddr - start), 0, image.buildId()});
  }
  check(!objects.empty(), "/usr/bin/node has executable segments");
  if (objects.empty()) return;

  std::mt19937_64 random(7);
  std::vector<uintptr_t> pcs;
  for (int i = 0; i < 50000; ++i) {
    const LoadedObject& object = objects[random() % objects.size()];
    pcs.push_back(object.start + random() % (object.limit - object.start));
  }
  auto start = std::chrono::steady_clock::now();
  Symbolizer symbolizer(objects);
  symbolizer.lookup(pcs[0]);
  double loadMs = millisecondsSince(start);
  size_t named = 0, nodeNamespace = 0;
  for (uintptr_t pc : pcs) {
    Frame frame = symbolizer.lookup(pc);
    if (!frame.function.empty()) ++named;
    if (frame.function.rfind("node::", 0) == 0 || frame.function.rfind("v8::", 0) == 0) {
      ++nodeNamespace;
    }
  }
  double totalMs = millisecondsSince(start);
  note("/usr/bin/node: first lookup (reads .symtab) " + std::to_string(loadMs) +
       " ms; 50000 pcs in " + std::to_string(totalMs) + " ms total; " + std::to_string(named) +
       " named");
  check(named > 45000, "most random pcs in node's text are named (" + std::to_string(named) + ")");
  check(nodeNamespace > 10000, "node's C++ symbols demangle to node:: and v8:: names");

  // Round trip: looking up a function's start gives the same function.
  bool roundTrip = true;
  for (size_t i = 0; i < 2000; ++i) {
    Frame frame = symbolizer.lookup(pcs[i]);
    if (frame.function.empty()) continue;
    Frame again = symbolizer.lookup(frame.functionStart);
    if (again.functionStart != frame.functionStart) roundTrip = false;
  }
  check(roundTrip, "looking up a functionStart resolves to the same symbol");

  // Names read after releasePages() (their pages faulted back in from the file) are the same,
  // for functions looked up before and for new ones.
  std::vector<std::string> before;
  for (size_t i = 0; i < 4000; ++i) before.push_back(symbolizer.lookup(pcs[i]).function);
  Symbolizer fresh(objects);
  std::vector<std::string> fromFresh;
  for (size_t i = 4000; i < 8000; ++i) fromFresh.push_back(fresh.lookup(pcs[i]).function);
  symbolizer.releasePages();
  fresh.releasePages();
  bool same = true;
  for (size_t i = 0; i < 4000; ++i) same = same && symbolizer.lookup(pcs[i]).function == before[i];
  for (size_t i = 4000; i < 8000; ++i) same = same && symbolizer.lookup(pcs[i]).function == fromFresh[i - 4000];
  check(same, "lookups after releasePages() name the same functions");
}

// Speed is measured in bench/, not asserted here: the time is noted for the log only.
void testManyLookups() {
  auto start = std::chrono::steady_clock::now();
  std::vector<LoadedObject> objects = allocscope::symbolize::loadedObjects();
  Symbolizer symbolizer(std::move(objects));
  std::mt19937_64 random(99);
  const auto& all = symbolizer.objects();
  size_t named = 0;
  for (int i = 0; i < 50000; ++i) {
    const LoadedObject& object = all[random() % all.size()];
    uintptr_t pc = object.start + random() % (object.limit - object.start);
    if (!symbolizer.lookup(pc).function.empty()) ++named;
  }
  double ms = millisecondsSince(start);
  note("this process: snapshot + 50000 pcs across " + std::to_string(all.size()) + " objects in " +
       std::to_string(ms) + " ms (" + std::to_string(named) + " named)");
  check(named > 0, "50000 random pcs across this process's objects resolve, and some have names");
}

}  // namespace

int main() {
  std::vector<LoadedObject> objects = allocscope::symbolize::loadedObjects();
  testLoadedObjects(objects);

  Symbolizer symbolizer(objects);
  check(symbolizer.objects().size() == objects.size(), "objects() returns the snapshot");
  testOwnFunctions(symbolizer, callerPc());
  testLibc(symbolizer);
  testUnmapped(symbolizer);
  testVdso(symbolizer);

  const LoadedObject* libc =
      findObject(objects, reinterpret_cast<uintptr_t>(dlsym(RTLD_DEFAULT, "getpid")));
  char scratchTemplate[] = "/tmp/symbolizer-test-XXXXXX";
  const char* scratch = mkdtemp(scratchTemplate);
  if (libc && baseName(libc->path) == "libc.so.6" && scratch) {
    testOddFiles(scratch, *libc);
    testFuzz(*libc);
    std::string command = std::string("rm -rf '") + scratch + "'";
    if (std::system(command.c_str()) != 0) note("could not remove " + std::string(scratch));
  } else {
    check(false, "found libc.so.6 and made a scratch directory for damage tests");
  }
  testNodeBinary();
  testManyLookups();

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
