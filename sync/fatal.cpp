#include "fatal.hpp"

#include <cstdio>
#include <cstdlib>

namespace weft::sync {

void fatal(const char* what) noexcept {
  std::fprintf(stderr, "weft: fatal: %s\n", what);
  std::abort();
}

}  // namespace weft::sync
