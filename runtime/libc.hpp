// The original libc functions behind weft's shims, for the shims themselves and for the
// runtime (whose own reads, writes and waits must never be intercepted).
//
//   WEFT_REAL(read)(fd, buf, n)   calls libc's read, whatever interposes it.
//
// The table is filled by dlsym(RTLD_NEXT) once, from a constructor, or earlier if another
// library's constructor calls a shim first. dlsym may allocate, which is safe: weft does
// not interpose malloc.
#pragma once

#include "libc_decls.hpp"

namespace weft::real {

struct Table {
#define WEFT_SHIM(family, ret, name, params) ret(*name) params;
#include "manifest.def"
#undef WEFT_SHIM
};

extern Table table;

// Fills the table; aborts with a message naming the symbol if one is missing.
void resolve_all() noexcept;

template <class Fn>
inline Fn resolved(Fn Table::*slot) noexcept {
  Fn fn = __atomic_load_n(&(table.*slot), __ATOMIC_ACQUIRE);
  if (__builtin_expect(fn == nullptr, 0)) {
    resolve_all();
    fn = table.*slot;
  }
  return fn;
}

}  // namespace weft::real

#define WEFT_REAL(name) (::weft::real::resolved(&::weft::real::Table::name))
