// ProcessOptions::timeout at its ends, read as every weft duration is: a negative timeout
// is a deadline already passed (the task times out at once and never runs), and one too
// large for the clock is no limit (the task runs to its end, never "times out" through an
// overflow into the past). Zero stays "no limit", as documented.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

namespace {

int nap_then(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Leaves a file behind if it ever runs.
int touch(std::string path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  if (fd >= 0) ::close(fd);
  return 1;
}

std::string scratch(const char* what) {
  return "/tmp/weft-test-timeout-" + std::string(what) + "-" + std::to_string(::getpid());
}

}  // namespace

TEST_CASE("a negative timeout: process_error(timed_out) at once, and the task never runs") {
  weft::spawn_process(nap_then, 0).get();  // a worker is up
  const std::string path = scratch("negative");
  ::unlink(path.c_str());
  for (const std::chrono::milliseconds timeout : {-1ms, std::chrono::milliseconds(-1h), std::chrono::milliseconds::min()}) {
    INFO("timeout " << timeout.count() << " ms");
    weft::Unfuture<int> u;
    const auto call = took([&] { u = weft::spawn_process(weft::ProcessOptions{.timeout = timeout}, touch, path); });
    const auto settle = took([&] { u.wait(); });
    try {
      u.get();
      FAIL("no process_error");
    } catch (const weft::process_error& e) {
      CHECK(e.code() == weft::process_errc::timed_out);
    } catch (const std::exception& e) {
      FAIL("threw " << e.what());
    }
    // A round trip to a worker takes about a millisecond; the reference is a real one.
    const auto round_trip = took([] { weft::spawn_process(nap_then, 0).get(); });
    CHECK_MESSAGE(call + settle < round_trip + 50ms, "call " << ms(call) << " ms, settle " << ms(settle) << " ms");
  }
  CHECK(::access(path.c_str(), F_OK) != 0);  // never ran
  CHECK(weft::spawn_process(nap_then, 3).get() == 3);  // the pool is fine
}

TEST_CASE("a timeout too large for the clock is no limit: the task runs to its end") {
  weft::spawn_process(nap_then, 0).get();
  for (const auto timeout : {std::chrono::milliseconds::max(), std::chrono::milliseconds::max() / 2,
                             std::chrono::milliseconds(std::chrono::hours(24 * 365 * 300))}) {
    INFO("timeout " << timeout.count() << " ms");
    auto u = weft::spawn_process(weft::ProcessOptions{.timeout = timeout}, nap_then, 200);
    CHECK(u.get() == 200);
  }
}
