// pthread_once and std::call_once: the routine runs once, later calls return 0 without
// running it, and a std::call_once whose callable throws lets the next call run it, on a
// plain thread and in a fiber alike. (Concurrent callers have tests/locks/test_once_*.)
#include "conformance.hpp"

#include <pthread.h>

#include <mutex>
#include <stdexcept>
#include <string>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(pthread_once)

namespace {

int runs = 0;  // one act at a time, so one counter serves
void count_run() { ++runs; }

}  // namespace

TEST_CASE("pthread_once runs its routine once and returns 0 each time") {
  const Outcome ref = check_conforms([] {
    runs = 0;
    pthread_once_t control = PTHREAD_ONCE_INIT;
    std::string t = "first=" + std::to_string(pthread_once(&control, count_run));
    t += " second=" + std::to_string(pthread_once(&control, count_run));
    t += " runs=" + std::to_string(runs);
    return Outcome{0, 0, t};
  });
  CHECK(ref.detail == "first=0 second=0 runs=1");
}

TEST_CASE("std::call_once: an exception leaves the flag unset, the next call runs, the one after does not") {
  const Outcome ref = check_conforms([] {
    std::once_flag flag;
    std::string t;
    try {
      std::call_once(flag, [] { throw std::runtime_error("first"); });
    } catch (const std::runtime_error& e) {
      t += std::string("threw=") + e.what();
    }
    int calls = 0;
    std::call_once(flag, [&] { ++calls; });
    std::call_once(flag, [&] { ++calls; });
    t += " calls=" + std::to_string(calls);
    return Outcome{0, 0, t};
  });
  CHECK(ref.detail == "threw=first calls=1");
}
