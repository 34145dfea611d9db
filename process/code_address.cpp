#include "code_address.hpp"

#include "fork.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace weft::rt::process {

namespace {

struct Segment {
  std::uintptr_t start;
  std::uintptr_t end;
  bool executable;
};

struct Module {
  std::string name;
  std::uintptr_t base = 0;
  std::string identity;
  std::vector<Segment> segments;

  bool holds(std::uintptr_t from, std::size_t size, bool need_exec) const {
    for (const Segment& s : segments) {
      if (from >= s.start && from < s.end && size <= s.end - from && (!need_exec || s.executable)) {
        return true;
      }
    }
    return false;
  }
};

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 0xf];
  }
  return out;
}

// The GNU build-id note of a loaded module, read from its mapped PT_NOTE segments.
std::string build_id_of(const dl_phdr_info& info) {
  for (int i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info.dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const std::size_t align = ph.p_align == 8 ? 8 : 4;
    auto up = [align](std::size_t n) { return (n + align - 1) & ~(align - 1); };
    const char* at = reinterpret_cast<const char*>(info.dlpi_addr + ph.p_vaddr);
    const char* end = at + ph.p_memsz;
    while (static_cast<std::size_t>(end - at) >= sizeof(ElfW(Nhdr))) {
      ElfW(Nhdr) note;
      std::memcpy(&note, at, sizeof note);
      const char* name = at + sizeof note;
      const char* desc = name + up(note.n_namesz);
      if (desc > end || note.n_descsz > static_cast<std::size_t>(end - desc)) break;
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        return to_hex(reinterpret_cast<const unsigned char*>(desc), note.n_descsz);
      }
      at = desc + up(note.n_descsz);
    }
  }
  return {};
}

// For a module linked without a build-id: the file it was loaded from, as seen now.
std::string file_identity(const std::string& module) {
  const std::string path = module.empty() ? "/proc/self/exe" : module;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "file:unknown:" + path;
  char text[128];
  std::snprintf(text, sizeof text, "file:%llu:%llu:%lld:%lld.%09ld",
                static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
                static_cast<long long>(st.st_size), static_cast<long long>(st.st_mtim.tv_sec),
                st.st_mtim.tv_nsec);
  return text;
}

// Every module loaded now; the executable first, named "".
std::vector<Module> loaded_modules() {
  std::vector<Module> modules;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        auto& list = *static_cast<std::vector<Module>*>(out);
        Module m;
        m.name = list.empty() || info->dlpi_name == nullptr ? "" : info->dlpi_name;
        m.base = info->dlpi_addr;
        m.identity = build_id_of(*info);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
          m.segments.push_back({start, start + ph.p_memsz, (ph.p_flags & PF_X) != 0});
        }
        list.push_back(std::move(m));
        return 0;
      },
      &modules);
  for (Module& m : modules) {
    if (m.identity.empty()) m.identity = file_identity(m.name);
  }
  return modules;
}

}  // namespace

namespace {

std::mutex locate_lock;  // constant-initialized: usable from fork handlers at any time

// fork(): locate()'s cache is locked across the fork, so that a child finds it whole and
// unlocked (runtime/fork.cpp).
void lock_code_addresses_for_fork() noexcept { locate_lock.lock(); }
void unlock_code_addresses_after_fork() noexcept { locate_lock.unlock(); }

[[maybe_unused]] const bool fork_handled = [] {
  add_fork_participant({lock_code_addresses_for_fork, unlock_code_addresses_after_fork,
                        unlock_code_addresses_after_fork});
  return true;
}();

}  // namespace

CodeAddress locate(const void* p) {
  static std::unordered_map<const void*, CodeAddress> known;
  std::lock_guard lk(locate_lock);
  if (auto it = known.find(p); it != known.end()) return it->second;
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  for (const Module& m : loaded_modules()) {
    if (!m.holds(at, 1, false)) continue;
    CodeAddress where{m.name, m.identity, at - m.base};
    known.emplace(p, where);
    return where;
  }
  throw std::invalid_argument("weft::spawn_process: the function is in no loaded module");
}

const void* resolve(const CodeAddress& where, std::size_t size, Expect expect, std::string& why) {
  static std::mutex lock;
  static std::unordered_map<std::string, Module> by_name;
  std::lock_guard lk(lock);
  auto it = by_name.find(where.module);
  if (it == by_name.end()) {
    auto find = [&]() -> bool {
      for (Module& m : loaded_modules()) {
        if (m.name != where.module) continue;
        it = by_name.emplace(m.name, std::move(m)).first;
        return true;
      }
      return false;
    };
    if (!find()) {
      // A library the caller loaded after it started (a plugin): load it here too.
      if (::dlopen(where.module.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
        const char* error = ::dlerror();
        why = "the worker process cannot load " + where.module + ": " + (error ? error : "?");
        return nullptr;
      }
      if (!find()) {
        why = "the worker process loaded " + where.module + " under another name";
        return nullptr;
      }
    }
  }
  const Module& m = it->second;
  const std::string shown = m.name.empty() ? std::string("the executable") : m.name;
  if (m.identity != where.identity) {
    why = shown + " differs between the caller (" + where.identity + ") and the worker (" +
          m.identity + "); was it rebuilt while the program ran?";
    return nullptr;
  }
  const std::uintptr_t at = m.base + where.offset;
  if (where.offset > UINTPTR_MAX - m.base || !m.holds(at, size, expect == Expect::code)) {
    why = "offset " + std::to_string(where.offset) + " is outside the " +
          (expect == Expect::code ? "code" : "data") + " of " + shown;
    return nullptr;
  }
  return reinterpret_cast<const void*>(at);
}

}  // namespace weft::rt::process
