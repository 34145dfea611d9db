#include "libc.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace weft::real {

Table table;

void resolve_all() noexcept {
  // Idempotent and race-free in effect: racing threads store the same pointers.
#define WEFT_SHIM(family, ret, name, params)                                          \
  if (table.name == nullptr) {                                                        \
    void* sym = ::dlsym(RTLD_NEXT, #name);                                            \
    if (sym == nullptr) {                                                             \
      std::fprintf(stderr, "weft: libc has no %s, which weft interposes\n", #name);  \
      std::abort();                                                                   \
    }                                                                                 \
    __atomic_store_n(reinterpret_cast<void**>(&table.name), sym, __ATOMIC_RELEASE);   \
  }
#include "manifest.def"
#undef WEFT_SHIM
}

namespace {
// Before main and before most other constructors, so later calls never take the slow path.
__attribute__((constructor(101))) void resolve_at_start() { resolve_all(); }
}  // namespace

}  // namespace weft::real
