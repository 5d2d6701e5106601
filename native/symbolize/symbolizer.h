// Maps native program counters to loaded ELF objects and function names for pprof profiles.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace allocscope::symbolize {

// One executable mapping of a loaded ELF object, as pprof's Mapping needs it.
struct LoadedObject {
  std::string path;        // absolute path of the file ("/usr/bin/node" for the main program: resolve the
                           // empty dl_iterate_phdr name through /proc/self/exe); "[vdso]" for the vdso
  uintptr_t start;         // runtime start of its executable PT_LOAD segment (page aligned down)
  uintptr_t limit;         // runtime end (exclusive) of that segment
  uint64_t fileOffset;     // file offset of that segment (p_offset, aligned down like start)
  uintptr_t loadBias;      // dlpi_addr
  std::string buildId;     // GNU build id as lowercase hex from the PT_NOTE NT_GNU_BUILD_ID note, "" if none
};

// Snapshot of the executable segments of every loaded object (dl_iterate_phdr), sorted by start.
// An object with several executable segments (the main program often has .init/.plt, .text and
// .fini apart) yields one entry per segment, all with the same path, loadBias and buildId.
std::vector<LoadedObject> loadedObjects();

struct Frame {
  const LoadedObject* object;  // nullptr when the pc is in no loaded object (e.g. JIT code)
  std::string function;        // demangled name (abi::__cxa_demangle), "" when unknown
  uintptr_t functionStart;     // runtime address of the symbol's start, 0 when unknown
};

struct ObjectSymbols;

// Resolves program counters to functions. Not for the malloc hook path: it allocates and reads
// files; it is used when a profile is built. Thread-compatible (one instance per caller).
class Symbolizer {
 public:
  // Takes the snapshot to resolve against (normally loadedObjects()); re-sorts it by start.
  explicit Symbolizer(std::vector<LoadedObject> objects);
  ~Symbolizer();
  Symbolizer(Symbolizer&&) noexcept;
  Symbolizer& operator=(Symbolizer&&) noexcept;
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  const std::vector<LoadedObject>& objects() const;

  // pc is a return address or instruction address, and is resolved exactly as given: a caller
  // holding return addresses may pass pc - 1 so that a call ending a function (a call to a
  // noreturn function) is not attributed to the next function. Frame::object points into
  // objects() and stays valid for this Symbolizer's lifetime.
  Frame lookup(uintptr_t pc);
  // releasePages takes the pages of the symbol files that lookups read (each fault maps up to
  // 64 KiB around the name it reads) out of the process's resident set: call it after a batch.
  void releasePages();

 private:
  // Symbols of the object at objects()[index], read from its file on first use.
  ObjectSymbols& symbolsOf(size_t index);

  std::vector<LoadedObject> d_objects;
  // Index into d_tables for each object, -1 until read. Segments of one object share a table.
  std::vector<int32_t> d_tableOf;
  std::vector<std::unique_ptr<ObjectSymbols>> d_tables;
};

}  // namespace allocscope::symbolize
