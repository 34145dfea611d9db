// Keeps every shim in a static link. A linker takes an object out of libweft.a only for a
// symbol something already wants, and a program's own calls to read or connect may not be
// seen before the archive is (a client library's are certainly not). runtime.cpp refers
// to this table, and every program using weft needs runtime.cpp.
#include "libc.hpp"

namespace weft::shim {

extern const void* const interposed[] = {
#define WEFT_SHIM(family, ret, name, params) reinterpret_cast<const void*>(&::name),
#include "manifest.def"
#undef WEFT_SHIM
};

}  // namespace weft::shim
