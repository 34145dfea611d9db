// wait_for/wait_until on work that is not done: false at the timeout (not early, not much
// later), the work still completes, and then they return true at once. From a fiber and
// from a plain thread.
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <tuple>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weft_test::ms;
using weft_test::took;

namespace {

const auto kLate = std::chrono::milliseconds(30 * WEFT_TEST_SLACK);  // allowed lateness

// Stalls of this shared machine while a test case ran (a plain thread's sleep lateness)
// are allowed on top of kLate.
weft_test::StallWatch stall_watch;
Clock::duration late_ok() { return kLate + stall_watch.worst(); }

struct Timed {
  bool result;
  Clock::duration took;
};

template <class F>
Timed timed(F f) {
  const auto start = Clock::now();
  bool r = f();
  return {r, Clock::now() - start};
}

}  // namespace

TEST_CASE("wait_for from a plain thread expires, then succeeds once the fiber is done") {
  stall_watch.reset();
  weft::Promise<void> release;
  auto work = weft::spawn([u = release.get_unfuture()] {
    u.get();
    return 1;
  });
  auto t = timed([&] { return work.wait_for(60ms); });
  CHECK_FALSE(t.result);
  CHECK(t.took >= 60ms);
  CHECK_MESSAGE(t.took < 60ms + late_ok(), "wait_for(60ms) took " << ms(t.took) << " ms");
  CHECK_FALSE(work.ready());

  release.set_value();
  auto t2 = timed([&] { return work.wait_for(10s); });
  CHECK(t2.result);
  CHECK(t2.took < 1s);
  CHECK(work.wait_for(0ms));  // already complete: true without waiting
  CHECK(work.get() == 1);
}

TEST_CASE("wait_for from a fiber expires without blocking its worker") {
  stall_watch.reset();
  weft::Promise<void> release;
  auto work = weft::spawn([u = release.get_unfuture()] { u.get(); });
  auto waiter = weft::spawn([work] {
    auto t = timed([&] { return work.wait_for(60ms); });
    return t;
  });
  // While the waiter waits, other fibers still run (on all workers).
  std::atomic<int> ticks{0};
  std::vector<weft::Unfuture<void>> tickers;
  for (int i = 0; i < 8; ++i) {
    tickers.push_back(weft::spawn([&ticks] {
      for (int k = 0; k < 10; ++k) {
        ticks.fetch_add(1);
        weft::sleep_for(1ms);
      }
    }));
  }
  for (auto& t : tickers) t.get();
  CHECK(ticks.load() == 80);
  Timed t = waiter.get();
  CHECK_FALSE(t.result);
  CHECK(t.took >= 60ms);
  CHECK_MESSAGE(t.took < 60ms + late_ok(), "wait_for(60ms) in a fiber took " << ms(t.took) << " ms");

  release.set_value();
  CHECK(weft::run([work] { return work.wait_for(10s); }));
}

TEST_CASE("wait_for returns true as soon as the work completes, not at the timeout") {
  stall_watch.reset();
  auto work = weft::spawn([] {
    weft::sleep_for(50ms);
    return 2;
  });
  auto t = timed([&] { return work.wait_for(10s); });
  CHECK(t.result);
  CHECK(t.took < 5s);
  auto in_fiber = weft::run([] {
    auto w = weft::spawn([] { weft::sleep_for(50ms); });
    return timed([&] { return w.wait_for(10s); });
  });
  CHECK(in_fiber.result);
  CHECK(in_fiber.took < 5s);
}

TEST_CASE("wait_until with steady and system clocks expires the same way") {
  stall_watch.reset();
  weft::Promise<int> never_yet;
  auto u = never_yet.get_unfuture();
  auto t = timed([&] { return u.wait_until(Clock::now() + 50ms); });
  CHECK_FALSE(t.result);
  CHECK(t.took >= 50ms);
  CHECK(t.took < 50ms + late_ok());
  auto t2 = timed([&] { return u.wait_until(std::chrono::system_clock::now() + 50ms); });
  CHECK_FALSE(t2.result);
  CHECK(t2.took >= 45ms);  // system_clock may step; steady conversion keeps it close
  CHECK(t2.took < 50ms + late_ok());
  auto t3 = weft::run([u] { return timed([&] { return u.wait_until(Clock::now() + 50ms); }); });
  CHECK_FALSE(t3.result);
  CHECK(t3.took >= 50ms);
  CHECK(t3.took < 50ms + late_ok());
  never_yet.set_value(1);
  CHECK(u.wait_until(Clock::now() + 10s));
}

TEST_CASE("a deadline in the past or a zero timeout polls") {
  stall_watch.reset();
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  auto t = timed([&] { return u.wait_for(0ms); });
  CHECK_FALSE(t.result);
  CHECK(t.took < 100ms + stall_watch.worst());
  auto t2 = timed([&] { return u.wait_until(Clock::now() - 1h); });
  CHECK_FALSE(t2.result);
  CHECK(t2.took < 100ms + stall_watch.worst());
  auto t3 = timed([&] { return u.wait_until(std::chrono::system_clock::now() - 1h); });
  CHECK_FALSE(t3.result);
  CHECK(t3.took < 100ms + stall_watch.worst());
  // The same from a fiber.
  const auto in_fiber = weft::run([u] {
    const auto start = Clock::now();
    const bool a = u.wait_for(0ms);
    const bool b = u.wait_until(Clock::now() - 1h);
    return std::tuple(a, b, Clock::now() - start);
  });
  CHECK_FALSE(std::get<0>(in_fiber));
  CHECK_FALSE(std::get<1>(in_fiber));
  CHECK(std::get<2>(in_fiber) < 100ms + stall_watch.worst());
  p.set_value(1);
  CHECK(u.wait_for(0ms));
  CHECK(u.wait_until(Clock::now() - 1h));
}

TEST_CASE("many fibers time out at their own deadlines") {
  stall_watch.reset();
  weft::Promise<void> never_yet;
  auto u = never_yet.get_unfuture();
  std::vector<weft::Unfuture<Clock::duration>> waits;
  for (int i = 0; i < 100; ++i) {
    waits.push_back(weft::spawn([u, i] {
      const auto want = std::chrono::milliseconds(10 + i);
      auto t = timed([&] { return u.wait_for(want); });
      return t.result ? Clock::duration::min() : t.took - want;  // lateness
    }));
  }
  Clock::duration worst{};
  for (auto& w : waits) {
    const auto late = w.get();
    REQUIRE(late != Clock::duration::min());
    CHECK(late >= Clock::duration::zero());
    worst = std::max(worst, late);
  }
  CHECK_MESSAGE(worst < late_ok(), "worst wait_for lateness " << ms(worst) << " ms");
  never_yet.set_value();
}
