// race() and when_all_or_cancel() (issue 15, item 4): the first to complete wins and the
// losers are cancelled (their waits end at once); the first failure cancels the rest and
// is the one reported, not the cancellations it caused. Two workers.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;

namespace {

weft::Unfuture<int> sleeper(std::chrono::milliseconds d, int value) {
  return weft::spawn([d, value] {
    weft::sleep_for(d);
    return value;
  });
}

}  // namespace

TEST_CASE("race: the first wins, the losers are cancelled at once") {
  weft::configure({.threads = 2});
  auto fast = sleeper(10ms, 1);
  auto slow1 = sleeper(10'000ms, 2);
  auto slow2 = sleeper(10'000ms, 3);
  const auto took = weft_test::took([&] { CHECK(weft::race(slow1, fast, slow2).get() == 1); });
  CHECK(fast.get() == 1);
  CHECK_THROWS_AS(slow1.get(), weft::cancelled_error);
  CHECK_THROWS_AS(slow2.get(), weft::cancelled_error);
  CHECK(took < 5s);

  std::vector<weft::Unfuture<int>> all{sleeper(10'000ms, 0), sleeper(10'000ms, 1), sleeper(5ms, 2)};
  CHECK(weft::race(all).get() == 2);
  CHECK_THROWS_AS(all[0].get(), weft::cancelled_error);
  CHECK_THROWS_AS(all[1].get(), weft::cancelled_error);
  CHECK(all[2].get() == 2);
}

TEST_CASE("when_all_or_cancel: the first failure cancels the rest and is the one reported") {
  auto slow = sleeper(10'000ms, 1);
  auto failing = weft::spawn([]() -> int {
    weft::sleep_for(10ms);
    throw std::runtime_error("failed");
  });
  const auto took = weft_test::took([&] {
    CHECK_THROWS_WITH_AS(weft::when_all_or_cancel(slow, failing).get(), "failed", std::runtime_error);
  });
  CHECK_THROWS_AS(slow.get(), weft::cancelled_error);
  CHECK(took < 5s);

  std::vector<weft::Unfuture<int>> range{sleeper(10'000ms, 0), weft::spawn([]() -> int {
                                           weft::sleep_for(5ms);
                                           throw std::logic_error("range failed");
                                         })};
  CHECK_THROWS_AS(weft::when_all_or_cancel(range).get(), std::logic_error);
  CHECK_THROWS_AS(range[0].get(), weft::cancelled_error);

  auto a = sleeper(1ms, 4);
  auto b = sleeper(2ms, 5);
  CHECK(weft::when_all_or_cancel(a, b).get() == std::tuple{4, 5});
}

TEST_CASE("when_all reports a real failure before a cancellation earlier in input order") {
  auto cancelled = sleeper(10'000ms, 1);
  auto failing = weft::spawn([]() -> int {
    weft::sleep_for(20ms);
    throw std::runtime_error("the real one");
  });
  auto all = weft::when_all(cancelled, failing);
  CHECK(cancelled.cancel());
  CHECK_THROWS_WITH_AS(all.get(), "the real one", std::runtime_error);
}
