// libc's own functions, for benchmarks that measure a shim against what it replaces. They
// are looked up in libc.so.6 itself: from the executable, dlsym(RTLD_NEXT) would find
// libweft's, which comes after it in lookup order. Each is checked to differ from what
// the program's own calls reach, so a column labelled "libc" can never silently be weft's.
#pragma once

#include <benchmark/benchmark.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace weft_bench {

// libc.so.6's `name`, as a Fn; aborts with a message naming `who` if it is missing or is
// the function the program's own calls reach (the shims are not in front of it).
template <class Fn>
Fn libc_direct(const char* name, const char* who) {
  void* handle = ::dlopen("libc.so.6", RTLD_NOLOAD | RTLD_NOW);
  void* own = handle != nullptr ? ::dlsym(handle, name) : nullptr;
  void* reached = ::dlsym(RTLD_DEFAULT, name);
  if (own == nullptr || own == reached) {
    std::fprintf(stderr, "%s: libc's %s not found apart from the shims (libc %p, default %p)\n", who, name, own,
                 reached);
    std::abort();
  }
  return reinterpret_cast<Fn>(own);
}

// Adds "<name>_resolves_to" to the benchmark's context: the library the program's own
// calls to `name` reach (libweft's, unless the shims are not in front).
inline void note_where_resolves(const char* name) {
  Dl_info info{};
  if (::dladdr(::dlsym(RTLD_DEFAULT, name), &info) != 0) {
    benchmark::AddCustomContext(std::string(name) + "_resolves_to", info.dli_fname ? info.dli_fname : "?");
  }
}

}  // namespace weft_bench
