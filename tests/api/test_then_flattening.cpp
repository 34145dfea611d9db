// A continuation (or a spawned function) returning an Unfuture<U> gives Unfuture<U>, not
// Unfuture<Unfuture<U>>, completing when the inner one does, with its value or failure.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

using namespace std::chrono_literals;

TEST_CASE("value form returning an Unfuture is flattened and waits for the inner work") {
  auto r = weft::spawn([] { return 2; }).then([](int v) {
    return weft::spawn([v] {
      weft::sleep_for(30ms);
      return v * 21;
    });
  });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<int>>);
  CHECK(r.get() == 42);
}

TEST_CASE("Unfuture form returning an Unfuture is flattened") {
  auto r = weft::spawn([] { return std::string("ab"); }).then([](weft::Unfuture<std::string> u) {
    return weft::spawn([s = u.get()] { return s + "c"; });
  });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<std::string>>);
  CHECK(r.get() == "abc");
}

TEST_CASE("the flattened result is not ready until the inner Unfuture completes") {
  weft::Promise<int> inner;
  auto r = weft::spawn([] { return 1; }).then([u = inner.get_unfuture()](int) { return u; });
  CHECK_FALSE(r.wait_for(50ms));
  std::thread([&] { inner.set_value(99); }).join();
  CHECK(r.get() == 99);
}

TEST_CASE("a failing inner Unfuture fails the flattened result") {
  auto r = weft::spawn([] { return 1; }).then([](int) {
    return weft::spawn([]() -> int { throw std::out_of_range("inner failed"); });
  });
  CHECK_THROWS_WITH_AS(r.get(), "inner failed", std::out_of_range);
}

TEST_CASE("returning an empty Unfuture fails the result with future_error(no_state)") {
  auto r = weft::spawn([] { return 1; }).then([](int) { return weft::Unfuture<int>(); });
  try {
    r.get();
    FAIL("get() should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::no_state);
  }
}

TEST_CASE("flattening to void") {
  std::atomic<bool> inner_ran{false};
  auto r = weft::spawn([] {}).then([&] {
    return weft::spawn([&] {
      weft::sleep_for(10ms);
      inner_ran = true;
    });
  });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<void>>);
  r.get();
  CHECK(inner_ran.load());
}

TEST_CASE("spawn of a function returning an Unfuture is flattened too") {
  auto r = weft::spawn([] {
    return weft::spawn([] {
      weft::sleep_for(10ms);
      return 5;
    });
  });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<int>>);
  CHECK(r.get() == 5);
  CHECK(weft::run([] { return weft::spawn([] { return 6; }); }) == 6);
}

TEST_CASE("flattening through several levels of then") {
  auto r = weft::spawn([] { return 1; })
               .then([](int v) { return weft::spawn([v] { return v + 1; }); })
               .then([](int v) { return weft::spawn([v] { return v * 10; }); })
               .then([](int v) { return v + 3; });
  CHECK(r.get() == 23);
}
