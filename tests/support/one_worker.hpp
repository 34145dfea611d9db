// For test programs whose point needs every fiber on one worker thread (CTest also sets
// WEFT_THREADS=1 for them): configures the runtime once, before its first use.
#pragma once

#include <weft/weft.hpp>

namespace weft_test {

inline void one_worker() {
  static const bool once = [] {
    weft::configure({.threads = 1});
    return true;
  }();
  (void)once;
}

}  // namespace weft_test
