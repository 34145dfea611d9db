// Time in conformance cases: timing each run against the plain thread's, measured in the
// same case (for the shims that wait: poll, select, the sleeps), and acting later from
// outside the runtime (what unblocks a call in the act).
#pragma once

#include "support/stall_watch.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <thread>
#include <vector>

namespace weft_test {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Elapsed times of one case, one per run, the plain thread's (the reference) first.
struct Timings {
  std::vector<double> ms;
  // How late the machine itself ran a sleeping thread while the case ran: a stall of the
  // whole machine (other builds and tests at once) delays the reference or a run alike.
  StallWatch stall;

  // Each run took about as long as the reference, which took at least `at_least_ms`.
  // The fixed part of the tolerance grows with the build's slack: under a sanitizer one
  // stalled worker tick on a busy machine is tens of milliseconds (ASan CI saw 150 ms
  // against 50 once); early is wrong in every build. The machine's worst stall is allowed
  // on top (a reference of 314 ms for a 60 ms wait was seen with three builds running).
  void check(double at_least_ms) const {
    REQUIRE(ms.size() >= 2);
    CHECK(ms[0] >= at_least_ms - 1);
    const double stalled = std::chrono::duration<double, std::milli>(stall.worst()).count();
    for (std::size_t i = 1; i < ms.size(); ++i) {
      INFO("run " << i << " took " << ms[i] << " ms; the plain thread took " << ms[0] << " ms; machine stall "
                  << stalled << " ms");
      CHECK(ms[i] >= at_least_ms - 1);  // never early
      CHECK(std::abs(ms[i] - ms[0]) <= 50 * WEFT_TEST_SLACK + ms[0] / 2 + stalled);
    }
  }
};

// A plain thread that runs f after `delay`, joined on destruction: what unblocks a call
// in the act, from outside the runtime.
class Later {
 public:
  template <class F>
  Later(std::chrono::milliseconds delay, F f) : t_([delay, f] {
      std::this_thread::sleep_for(delay);
      f();
    }) {}
  ~Later() { t_.join(); }

 private:
  std::thread t_;
};

}  // namespace weft_test
