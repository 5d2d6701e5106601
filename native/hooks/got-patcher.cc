// GOT patching by walking each loaded object's dynamic section and relocation tables.
#include "hooks/got-patcher.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace allocscope::hooks {

namespace {

uintptr_t pageStart(uintptr_t address) {
  static const uintptr_t pageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return address & ~(pageSize - 1);
}

// The loader and the vdso must keep their own allocator calls; the loader's run under its lock.
bool isExcluded(const char* name) {
  return std::strstr(name, "ld-linux") != nullptr || std::strstr(name, "linux-vdso") != nullptr ||
         std::strstr(name, "linux-gate") != nullptr;
}

// glibc rewrites most d_ptr entries of a loaded object's dynamic section to run-time addresses,
// but not every loader does (and not for every tag): accept both forms.
uintptr_t runtimeAddress(uintptr_t base, uintptr_t pointer) {
  return pointer < base ? base + pointer : pointer;
}

// Writes `value` into a GOT slot, making a RELRO page writable for the moment of the write.
void writeSlot(void** slot, void* value, uintptr_t relroStart, uintptr_t relroEnd) {
  uintptr_t address = reinterpret_cast<uintptr_t>(slot);
  bool readOnly = address >= relroStart && address < relroEnd;
  if (readOnly) mprotect(reinterpret_cast<void*>(pageStart(address)), 1, PROT_READ | PROT_WRITE);
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  if (readOnly) mprotect(reinterpret_cast<void*>(pageStart(address)), 1, PROT_READ);
}

}  // namespace

GotPatcher::GotPatcher(std::vector<Interposition> interpositions)
    : d_interpositions(std::move(interpositions)) {
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&GotPatcher::visitObject), &self);
  d_ownBase = reinterpret_cast<uintptr_t>(self.dli_fbase);
}

void GotPatcher::activate() {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_active = true;
  patchLocked();
}

void GotPatcher::patch() {
  std::lock_guard<std::mutex> lock(d_mutex);
  if (d_active) patchLocked();
}

void GotPatcher::patchLocked() { dl_iterate_phdr(&GotPatcher::visitObject, this); }

int GotPatcher::visitObject(::dl_phdr_info* info, size_t, void* self) {
  static_cast<GotPatcher*>(self)->patchObject(info);
  return 0;
}

void GotPatcher::patchObject(::dl_phdr_info* info) {
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  uintptr_t base = info->dlpi_addr;
  // The addon's own calls stay unpatched (the hooks themselves must reach libc).
  if (isExcluded(name) || base == d_ownBase) return;
  const ElfW(Dyn)* dynamic = nullptr;
  uintptr_t relroStart = 0, relroEnd = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& phdr = info->dlpi_phdr[i];
    uintptr_t start = base + phdr.p_vaddr;
    if (phdr.p_type == PT_DYNAMIC) dynamic = reinterpret_cast<const ElfW(Dyn)*>(start);
    if (phdr.p_type == PT_GNU_RELRO) {
      relroStart = pageStart(start);
      relroEnd = start + phdr.p_memsz;
    }
  }
  if (dynamic == nullptr) return;

  const ElfW(Sym)* symbols = nullptr;
  const char* strings = nullptr;
  const ElfW(Rela)* pltRelocations = nullptr;
  size_t pltBytes = 0;
  const ElfW(Rela)* relocations = nullptr;
  size_t relocationBytes = 0;
  for (const ElfW(Dyn)* entry = dynamic; entry->d_tag != DT_NULL; ++entry) {
    switch (entry->d_tag) {
      case DT_SYMTAB: symbols = reinterpret_cast<const ElfW(Sym)*>(runtimeAddress(base, entry->d_un.d_ptr)); break;
      case DT_STRTAB: strings = reinterpret_cast<const char*>(runtimeAddress(base, entry->d_un.d_ptr)); break;
      case DT_JMPREL: pltRelocations = reinterpret_cast<const ElfW(Rela)*>(runtimeAddress(base, entry->d_un.d_ptr)); break;
      case DT_PLTRELSZ: pltBytes = entry->d_un.d_val; break;
      case DT_RELA: relocations = reinterpret_cast<const ElfW(Rela)*>(runtimeAddress(base, entry->d_un.d_ptr)); break;
      case DT_RELASZ: relocationBytes = entry->d_un.d_val; break;
      default: break;
    }
  }
  if (symbols == nullptr || strings == nullptr) return;

  auto patchTable = [&](const ElfW(Rela)* table, size_t bytes) {
    if (table == nullptr) return;
    for (size_t i = 0; i < bytes / sizeof(ElfW(Rela)); ++i) {
      const ElfW(Rela)& relocation = table[i];
      auto type = ELF64_R_TYPE(relocation.r_info);
      if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
      const char* symbol = strings + symbols[ELF64_R_SYM(relocation.r_info)].st_name;
      for (const auto& interposition : d_interpositions) {
        if (std::strcmp(symbol, interposition.name) != 0) continue;
        void** slot = reinterpret_cast<void**>(base + relocation.r_offset);
        void* original = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (original == interposition.replacement) break;
        d_slots[slot] = {base, original};
        writeSlot(slot, interposition.replacement, relroStart, relroEnd);
        break;
      }
    }
  };
  patchTable(pltRelocations, pltBytes);
  patchTable(relocations, relocationBytes);
}

void GotPatcher::deactivate() {
  std::lock_guard<std::mutex> lock(d_mutex);
  d_active = false;
  // Only objects that are still loaded: writing into an unloaded object's GOT would crash.
  dl_iterate_phdr(
      [](::dl_phdr_info* info, size_t, void* data) -> int {
        GotPatcher* self = static_cast<GotPatcher*>(data);
        uintptr_t relroStart = 0, relroEnd = 0;
        uintptr_t loadStart = UINTPTR_MAX, loadEnd = 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& phdr = info->dlpi_phdr[i];
          uintptr_t start = info->dlpi_addr + phdr.p_vaddr;
          if (phdr.p_type == PT_GNU_RELRO) {
            relroStart = pageStart(start);
            relroEnd = start + phdr.p_memsz;
          }
          if (phdr.p_type == PT_LOAD) {
            loadStart = std::min(loadStart, start);
            loadEnd = std::max(loadEnd, start + phdr.p_memsz);
          }
        }
        for (auto& [slot, patched] : self->d_slots) {
          uintptr_t address = reinterpret_cast<uintptr_t>(slot);
          if (patched.objectBase != info->dlpi_addr || address < loadStart || address >= loadEnd) continue;
          void* current = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
          for (const auto& interposition : self->d_interpositions) {
            if (current == interposition.replacement) {
              writeSlot(slot, patched.original, relroStart, relroEnd);
              break;
            }
          }
        }
        return 0;
      },
      this);
  d_slots.clear();
}

size_t GotPatcher::patchedObjects() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  std::vector<uintptr_t> bases;
  for (const auto& [slot, patched] : d_slots) {
    if (std::find(bases.begin(), bases.end(), patched.objectBase) == bases.end()) bases.push_back(patched.objectBase);
  }
  return bases.size();
}

size_t GotPatcher::patchedSlots() const {
  std::lock_guard<std::mutex> lock(d_mutex);
  return d_slots.size();
}

}  // namespace allocscope::hooks
