// Polls weft::stats() from a plain thread until `pred` holds, or `timeout` (times the
// sanitizers' slack) passes; gives the last figures either way, for the test to check.
#pragma once

#include "support/gate.hpp"

#include <weft/weft.hpp>

#include <chrono>

namespace weft_test {

template <class Pred>
weft::Stats stats_when(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  weft::Stats s = weft::stats();
  eventually([&] {
    s = weft::stats();
    return pred(s);
  }, timeout * WEFT_TEST_SLACK);
  return s;
}

}  // namespace weft_test
