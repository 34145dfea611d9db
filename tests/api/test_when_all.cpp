// when_all over a range (-> Unfuture<vector<T>>, Unfuture<void> for void) and over
// several Unfutures (-> Unfuture<tuple<...>>, void as std::monostate): values in input
// order, completion only once every input has, the first failure in input order.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("range: values come in input order, not completion order") {
  std::vector<weft::Unfuture<int>> us;
  for (int i = 0; i < 10; ++i) {
    us.push_back(weft::spawn([i] {
      weft::sleep_for(std::chrono::milliseconds(5 * (10 - i)));  // later inputs finish first
      return i * i;
    }));
  }
  auto all = weft::when_all(us);
  static_assert(std::is_same_v<decltype(all), weft::Unfuture<std::vector<int>>>);
  const std::vector<int> v = all.get();
  REQUIRE(v.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(v[static_cast<std::size_t>(i)] == i * i);
}

TEST_CASE("range: not complete while one input is pending") {
  weft::Promise<int> late;
  std::vector<weft::Unfuture<int>> us{weft::spawn([] { return 1; }), late.get_unfuture(),
                                      weft::spawn([] { return 3; })};
  auto all = weft::when_all(us);
  CHECK_FALSE(all.wait_for(50ms));
  std::thread([&] { late.set_value(2); }).join();
  CHECK(all.get() == std::vector<int>{1, 2, 3});
}

TEST_CASE("range: an iterator pair and a non-vector range work too") {
  std::list<weft::Unfuture<std::string>> us;
  for (const char* s : {"a", "b", "c"}) us.push_back(weft::spawn([s] { return std::string(s); }));
  CHECK(weft::when_all(us.begin(), us.end()).get() == std::vector<std::string>{"a", "b", "c"});
  CHECK(weft::when_all(us).get() == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("range: an empty range completes at once with an empty vector") {
  std::vector<weft::Unfuture<int>> none;
  auto all = weft::when_all(none);
  CHECK(all.ready());
  CHECK(all.get().empty());
}

TEST_CASE("range of Unfuture<void> gives Unfuture<void>; empty one is ready") {
  std::atomic<int> done{0};
  std::vector<weft::Unfuture<void>> us;
  for (int i = 0; i < 20; ++i) {
    us.push_back(weft::spawn([&done] {
      weft::sleep_for(5ms);
      done.fetch_add(1);
    }));
  }
  auto all = weft::when_all(us);
  static_assert(std::is_same_v<decltype(all), weft::Unfuture<void>>);
  all.get();
  CHECK(done.load() == 20);

  std::vector<weft::Unfuture<void>> none;
  auto empty = weft::when_all(none);
  CHECK(empty.ready());
  CHECK_NOTHROW(empty.get());
}

TEST_CASE("range: fails with the first failure in input order, after all complete") {
  weft::Promise<int> slow;
  std::vector<weft::Unfuture<int>> us{
      weft::spawn([] { return 0; }),
      weft::spawn([]() -> int {
        weft::sleep_for(40ms);
        throw std::runtime_error("second input");
      }),
      weft::spawn([]() -> int { throw std::logic_error("third input, fails first"); }),
      slow.get_unfuture()};
  auto all = weft::when_all(us);
  us[2].wait();
  CHECK_FALSE(all.wait_for(80ms));  // failures do not complete it early: slow is pending
  slow.set_value(4);
  CHECK_THROWS_WITH_AS(all.get(), "second input", std::runtime_error);
  // The later failure stays on its own handle.
  CHECK_THROWS_WITH_AS(us[2].get(), "third input, fails first", std::logic_error);
}

TEST_CASE("range of void with a failure") {
  std::vector<weft::Unfuture<void>> us{weft::spawn([] {}),
                                       weft::spawn([] { throw std::runtime_error("void failed"); })};
  CHECK_THROWS_WITH_AS(weft::when_all(us).get(), "void failed", std::runtime_error);
}

TEST_CASE("variadic: a tuple of mixed types, void as std::monostate") {
  auto a = weft::spawn([] { return 1; });
  auto b = weft::spawn([] {
    weft::sleep_for(10ms);
    return std::string("two");
  });
  auto c = weft::spawn([] {});
  auto all = weft::when_all(a, b, c);
  static_assert(
      std::is_same_v<decltype(all), weft::Unfuture<std::tuple<int, std::string, std::monostate>>>);
  auto [x, y, z] = all.get();
  CHECK(x == 1);
  CHECK(y == "two");
  CHECK(z == std::monostate{});
}

TEST_CASE("variadic: a single input") {
  auto all = weft::when_all(weft::spawn([] { return 3.5; }));
  CHECK(std::get<0>(all.get()) == 3.5);
}

TEST_CASE("variadic: the first failure in argument order wins") {
  weft::Promise<int> p;
  auto a = weft::spawn([] { return 1; });
  auto b = weft::spawn([]() -> std::string {
    weft::sleep_for(30ms);
    throw std::runtime_error("b failed");
  });
  auto c = weft::spawn([]() -> double { throw std::logic_error("c failed"); });
  auto all = weft::when_all(a, b, c, p.get_unfuture());
  CHECK_FALSE(all.wait_for(60ms));
  p.set_value(4);
  CHECK_THROWS_WITH_AS(all.get(), "b failed", std::runtime_error);
  CHECK_THROWS_WITH_AS(c.get(), "c failed", std::logic_error);
}

TEST_CASE("when_all joined from a fiber, over inputs completed by threads") {
  std::vector<weft::Promise<int>> ps(8);
  std::vector<weft::Unfuture<int>> us;
  for (auto& p : ps) us.push_back(p.get_unfuture());
  auto sum = weft::spawn([all = weft::when_all(us)] {
    int s = 0;
    for (int v : all.get()) s += v;
    return s;
  });
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) ts.emplace_back([&ps, i] { ps[static_cast<std::size_t>(i)].set_value(i); });
  for (auto& t : ts) t.join();
  CHECK(sum.get() == 28);
}

TEST_CASE("an empty handle among the inputs throws future_error(no_state) at once") {
  std::vector<weft::Unfuture<int>> us{weft::spawn([] { return 1; }), weft::Unfuture<int>()};
  try {
    (void)weft::when_all(us);
    FAIL("when_all should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
  try {
    (void)weft::when_all(us[0], weft::Unfuture<void>());
    FAIL("when_all should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
}

TEST_CASE("the same Unfuture several times over") {
  auto u = weft::spawn([] {
    weft::sleep_for(10ms);
    return 4;
  });
  std::vector<weft::Unfuture<int>> us{u, u, u};
  CHECK(weft::when_all(us).get() == std::vector<int>{4, 4, 4});
  CHECK(weft::when_all(u, u).get() == std::tuple<int, int>(4, 4));
}
