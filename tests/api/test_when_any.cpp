// when_any over a range or several Unfutures: an Unfuture<size_t> with the index of the
// first input to complete, successfully or not. An empty range is refused.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("range: the index of the first to complete") {
  std::vector<weft::Unfuture<int>> us;
  for (int i = 0; i < 5; ++i) {
    us.push_back(weft::spawn([i] {
      // Input 3 finishes first by a wide margin.
      weft::sleep_for(i == 3 ? 10ms : 500ms);
      return i * 10;
    }));
  }
  auto any = weft::when_any(us);
  static_assert(std::is_same_v<decltype(any), weft::Unfuture<std::size_t>>);
  const std::size_t first = any.get();
  CHECK(first == 3);
  CHECK(us[first].ready());
  CHECK(us[first].get() == 30);
  CHECK_FALSE(us[0].ready());
}

TEST_CASE("range: not complete before any input is") {
  weft::Promise<int> a, b;
  std::vector<weft::Unfuture<int>> us{a.get_unfuture(), b.get_unfuture()};
  auto any = weft::when_any(us);
  CHECK_FALSE(any.wait_for(50ms));
  std::thread([&] { b.set_value(2); }).join();
  CHECK(any.get() == 1);
  a.set_value(1);  // a later completion changes nothing
  CHECK(any.get() == 1);
}

TEST_CASE("range: a failure counts as completion; when_any itself does not fail") {
  weft::Promise<int> pending;
  std::vector<weft::Unfuture<int>> us{pending.get_unfuture(),
                                      weft::spawn([]() -> int { throw std::runtime_error("fast failure"); })};
  auto any = weft::when_any(us);
  CHECK(any.get() == 1);
  CHECK_THROWS_WITH_AS(us[1].get(), "fast failure", std::runtime_error);
  pending.set_value(0);
}

TEST_CASE("range: an input already complete wins at once") {
  weft::Promise<int> pending;
  auto done = weft::spawn([] { return 1; });
  done.wait();
  std::vector<weft::Unfuture<int>> us{pending.get_unfuture(), done};
  auto any = weft::when_any(us);
  CHECK(any.ready());
  CHECK(any.get() == 1);
  pending.set_value(0);
}

TEST_CASE("range: an empty range throws std::invalid_argument") {
  std::vector<weft::Unfuture<int>> none;
  CHECK_THROWS_AS((void)weft::when_any(none), std::invalid_argument);
  std::vector<weft::Unfuture<void>> none_void;
  CHECK_THROWS_AS((void)weft::when_any(none_void.begin(), none_void.end()), std::invalid_argument);
}

TEST_CASE("range of Unfuture<void> and iterator pairs over other containers") {
  std::list<weft::Unfuture<void>> us;
  us.push_back(weft::spawn([] { weft::sleep_for(500ms); }));
  us.push_back(weft::spawn([] { weft::sleep_for(5ms); }));
  CHECK(weft::when_any(us.begin(), us.end()).get() == 1);
}

TEST_CASE("variadic: mixed types, index in argument order") {
  weft::Promise<std::string> s;
  auto a = weft::spawn([] {
    weft::sleep_for(500ms);
    return 1;
  });
  auto c = weft::spawn([] { weft::sleep_for(10ms); });
  auto any = weft::when_any(a, s.get_unfuture(), c);
  static_assert(std::is_same_v<decltype(any), weft::Unfuture<std::size_t>>);
  CHECK(any.get() == 2);
  s.set_value("late");
}

TEST_CASE("variadic: a failing input wins when it completes first") {
  auto a = weft::spawn([] {
    weft::sleep_for(500ms);
    return 1;
  });
  auto b = weft::spawn([]() -> double {
    weft::sleep_for(5ms);
    throw std::runtime_error("b");
  });
  CHECK(weft::when_any(a, b).get() == 1);
  CHECK_THROWS_AS(b.get(), std::runtime_error);
}

TEST_CASE("when_any waited on from a fiber, inputs completed by threads") {
  std::vector<weft::Promise<int>> ps(4);
  std::vector<weft::Unfuture<int>> us;
  for (auto& p : ps) us.push_back(p.get_unfuture());
  auto winner = weft::spawn([any = weft::when_any(us)] { return any.get(); });
  std::thread([&] { ps[2].set_value(0); }).join();
  CHECK(winner.get() == 2);
  for (std::size_t i : {0u, 1u, 3u}) ps[i].set_value(0);
}

TEST_CASE("an empty handle among the inputs throws future_error(no_state)") {
  std::vector<weft::Unfuture<int>> us{weft::Unfuture<int>()};
  try {
    (void)weft::when_any(us);
    FAIL("when_any should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
  CHECK_THROWS_AS((void)weft::when_any(weft::spawn([] {}), weft::Unfuture<int>()), std::future_error);
}

TEST_CASE("the same Unfuture several times over: the first index") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  std::vector<weft::Unfuture<int>> us{u, u, u};
  auto any = weft::when_any(us);
  auto any2 = weft::when_any(u, u);
  CHECK_FALSE(any.ready());
  p.set_value(1);
  CHECK(any.get() == 0);
  CHECK(any2.get() == 0);
}
