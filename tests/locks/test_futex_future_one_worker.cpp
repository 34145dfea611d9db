// std::future waits in libstdc++.so's own futex calls (syscall(SYS_futex), shared ops).
// Before the futex shim, a fiber's get() slept in the kernel and blocked its worker: with
// one worker, the fiber that was to set the promise (after a hooked sleep) never ran again,
// and the test's deadlock guard fails it. Now get() parks only the fiber; a timed wait
// (steady and system clock: FUTEX_WAIT_BITSET with and without FUTEX_CLOCK_REALTIME) times
// out as long as asked while a ticker fiber on the worker keeps running.
#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("future::get in a fiber, set by a fiber of the same worker after a hooked sleep") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::promise<int> promise;
    std::future<int> future = promise.get_future();
    auto setter = weft::spawn([&] {
      std::this_thread::sleep_for(20ms);
      promise.set_value(42);
    });
    const int got = future.get();  // without the shim, the worker sleeps here for good
    setter.get();
    return got;
  });
  CHECK(weft_test::finish_or_die(done, "future::get blocked the worker its setter runs on") == 42);
}

TEST_CASE("future::wait_for and wait_until time out in a fiber while the worker runs others") {
  weft_test::one_worker();
  weft_test::StallWatch watch;
  auto done = weft::spawn([] {
    std::promise<void> promise;
    std::future<void> future = promise.get_future();
    weft_test::Ticker ticker(2ms);
    const auto t0 = std::chrono::steady_clock::now();
    const bool steady_timed_out = future.wait_for(60ms) == std::future_status::timeout;
    const bool system_timed_out =
        future.wait_until(std::chrono::system_clock::now() + 60ms) == std::future_status::timeout;
    const auto took = std::chrono::steady_clock::now() - t0;
    const int ticked = ticker.ticks();
    ticker.finish();
    promise.set_value();
    return std::tuple{steady_timed_out && system_timed_out, took, ticked};
  });
  const auto [timed_out, took, ticked] = weft_test::finish_or_die(done, "a timed future wait blocked the worker");
  CHECK(timed_out);
  CHECK(took >= 120ms);
  CHECK(took < 120ms + 50ms * WEFT_TEST_SLACK + watch.worst());
  // 120 ms of 2 ms ticks is 60; a worker blocked in the kernel would give none.
  INFO("ticks while waiting: " << ticked);
  CHECK(ticked >= 10);
}
