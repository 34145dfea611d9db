// weft::sleep_for / sleep_until: never early, not much late, in fibers (suspending only
// the fiber) and on plain threads (as std::this_thread's), with steady and system clocks.
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using weft_test::ms;
using weft_test::took;

namespace {

const auto kLate = std::chrono::milliseconds(30 * WEFT_TEST_SLACK);

// Stalls of this shared machine while a test case ran (a plain thread's sleep lateness)
// are allowed on top of kLate.
weft_test::StallWatch stall_watch;
Clock::duration late_ok() { return kLate + stall_watch.worst(); }

}  // namespace

TEST_CASE("sleep_for on a plain thread") {
  stall_watch.reset();
  CHECK_FALSE(weft::in_fiber());
  const auto d = took([] { weft::sleep_for(40ms); });
  CHECK(d >= 40ms);
  CHECK_MESSAGE(d < 40ms + late_ok(), "took " << ms(d) << " ms");
  const auto fractional = took([] { weft::sleep_for(std::chrono::duration<double, std::milli>(20.5)); });
  CHECK(fractional >= std::chrono::microseconds(20500));
}

TEST_CASE("sleep_until on a plain thread, steady and system clocks") {
  stall_watch.reset();
  const auto deadline = Clock::now() + 40ms;
  weft::sleep_until(deadline);
  CHECK(Clock::now() >= deadline);
  const auto d = took([] { weft::sleep_until(std::chrono::system_clock::now() + 40ms); });
  CHECK(d >= 39ms);
  CHECK(d < 40ms + late_ok());
}

TEST_CASE("sleep_for and sleep_until in a fiber") {
  stall_watch.reset();
  auto r = weft::run([] {
    const auto a = took([] { weft::sleep_for(40ms); });
    const auto deadline = Clock::now() + 40ms;
    weft::sleep_until(deadline);
    const bool b = Clock::now() >= deadline;
    const auto c = took([] { weft::sleep_until(std::chrono::system_clock::now() + 40ms); });
    return std::tuple(a, b, c);
  });
  const auto a = std::get<0>(r);  // no structured binding: clang 14 cannot capture one
  const bool b = std::get<1>(r);
  const auto c = std::get<2>(r);
  CHECK(a >= 40ms);
  CHECK_MESSAGE(a < 40ms + late_ok(), "took " << ms(a) << " ms");
  CHECK(b);
  CHECK(c >= 39ms);
  CHECK(c < 40ms + late_ok());
}

TEST_CASE("a zero duration and deadlines in the past return at once") {
  stall_watch.reset();
  CHECK(took([] { weft::sleep_for(0ms); }) < 50ms + stall_watch.worst());
  CHECK(took([] { weft::sleep_until(Clock::now() - 1h); }) < 50ms + stall_watch.worst());
  CHECK(took([] { weft::sleep_until(std::chrono::system_clock::now() - 1h); }) < 50ms + stall_watch.worst());
  const auto in_fiber = weft::run([] {
    return took([] {
      weft::sleep_for(0ms);
      weft::sleep_until(Clock::now() - 1h);
      weft::sleep_until(std::chrono::system_clock::now() - 1h);
    });
  });
  CHECK(in_fiber < 50ms + stall_watch.worst());
}

TEST_CASE("sleeping fibers do not hold their workers: many sleeps overlap") {
  stall_watch.reset();
  // Reference: one fiber's 100 ms sleep. 64 fibers sleeping 100 ms each on a few workers
  // must take about as long, not 64 times as long.
  const auto one = took([] { weft::run([] { weft::sleep_for(100ms); }); });
  const auto many = took([] {
    std::vector<weft::Unfuture<void>> us;
    for (int i = 0; i < 64; ++i) us.push_back(weft::spawn([] { weft::sleep_for(100ms); }));
    for (auto& u : us) u.get();
  });
  MESSAGE("one sleep " << ms(one) << " ms, 64 concurrent sleeps " << ms(many) << " ms");
  CHECK(many < one * 2 + late_ok());
}

TEST_CASE("a sleeping fiber lets others on its worker run") {
  stall_watch.reset();
  std::atomic<int> ticks{0};
  std::atomic<bool> stop{false};
  // More tickers than workers, so some share the sleeper's worker.
  std::vector<weft::Unfuture<void>> tickers;
  for (int i = 0; i < 8; ++i) {
    tickers.push_back(weft::spawn([&] {
      while (!stop.load()) {
        ticks.fetch_add(1);
        weft::this_fiber::yield();
      }
    }));
  }
  auto sleeper = weft::spawn([&] {
    const int before = ticks.load();
    weft::sleep_for(50ms);
    return ticks.load() - before;
  });
  const int during = sleeper.get();
  stop = true;
  for (auto& t : tickers) t.get();
  CHECK(during > 100);
}

TEST_CASE("sleeps from many plain threads and fibers at once each last their own time") {
  stall_watch.reset();
  std::vector<std::thread> threads;
  std::atomic<int> early{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const auto want = std::chrono::milliseconds(10 + 5 * i);
      if (took([&] { weft::sleep_for(want); }) < want) early.fetch_add(1);
    });
  }
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < 50; ++i) {
    fibers.push_back(weft::spawn([&, i] {
      const auto want = std::chrono::milliseconds(10 + i);
      if (took([&] { weft::sleep_for(want); }) < want) early.fetch_add(1);
    }));
  }
  for (auto& t : threads) t.join();
  for (auto& f : fibers) f.get();
  CHECK(early.load() == 0);
}
