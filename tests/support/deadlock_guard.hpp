// For tests whose failure is a deadlock of a worker: waits for the test's fiber from the
// main thread, and if it has not finished in time, says what hung and leaves the process
// at once (the hung worker would block any clean-up), so the test fails rather than
// running into CTest's timeout.
#pragma once

#include <weft/weft.hpp>

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace weft_test {

template <class T>
T finish_or_die(weft::Unfuture<T>& done, const char* what,
                std::chrono::seconds limit = std::chrono::seconds(30 * WEFT_TEST_SLACK)) {
  if (!done.wait_for(limit)) {
    std::fprintf(stderr, "deadlock: %s\n", what);
    std::fflush(stderr);
    ::_exit(1);
  }
  return done.get();
}

}  // namespace weft_test
