// A fiber whose timed wait on an fd was ended by data (not by its timeout) must still be
// able to sleep afterwards. Boost marks such a timed park as "notified" in the fiber's
// twstatus; a sleep that did not reset it had its expiry dropped and never woke.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("weft::sleep_for and std::this_thread::sleep_for end after a poll woken by data") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    (void)::write(p[1], "x", 1);
  });
  const auto slept = weft::run([&] {
    pollfd pf{p[0], POLLIN, 0};
    const int n = ::poll(&pf, 1, 5000);  // ended by the write, long before its timeout
    CHECK(n == 1);
    return weft_test::took([] {
      weft::sleep_for(20ms);
      std::this_thread::sleep_for(20ms);
    });
  });
  writer.join();
  ::close(p[0]);
  ::close(p[1]);
  CHECK(slept >= 40ms);
  CHECK(slept < 40ms + 500ms * WEFT_TEST_SLACK);
}
