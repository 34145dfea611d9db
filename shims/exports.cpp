// Keeps every shim and hook in a static link. A linker takes an object out of libweft.a
// only for a symbol something already wants, and a program's own calls to read or connect
// may not be seen before the archive is (a client library's are certainly not). runtime.cpp
// refers to this table, and every program using weft needs runtime.cpp.
#include "libc.hpp"

namespace weft::shim {

// The hooks are named through asm labels: exit's prototype here would clash with libc's
// (noexcept, noreturn) and __libc_start_main has none in any header. Only their addresses
// are taken.
#define WEFT_HOOK(layer, ret, name, params) void hook_##name() __asm__(#name);
#include "manifest_hooks.def"
#undef WEFT_HOOK

extern const void* const interposed[] = {
#define WEFT_SHIM(family, ret, name, params) reinterpret_cast<const void*>(&::name),
#include "manifest.def"
#undef WEFT_SHIM
#define WEFT_HOOK(layer, ret, name, params) reinterpret_cast<const void*>(&hook_##name),
#include "manifest_hooks.def"
#undef WEFT_HOOK
};

}  // namespace weft::shim
