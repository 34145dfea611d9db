// Exceptions travelling through then-chains: the original exception object (type and
// what()) arrives at the end, value-form continuations on the way are skipped, an
// Unfuture-form continuation may inspect, rethrow or replace it.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {
struct CustomError : std::runtime_error {
  explicit CustomError(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
  int code;
};
}  // namespace

TEST_CASE("a failure passes through several value-form continuations unchanged") {
  std::atomic<int> ran{0};
  auto r = weft::spawn([]() -> int { throw CustomError(7); })
               .then([&](int v) {
                 ran.fetch_add(1);
                 return v + 1;
               })
               .then([&](int v) {
                 ran.fetch_add(1);
                 return std::to_string(v);
               })
               .then([&](const std::string&) { ran.fetch_add(1); });
  try {
    r.get();
    FAIL("get() should have thrown");
  } catch (const CustomError& e) {
    CHECK(e.code == 7);
    CHECK(std::string(e.what()) == "custom 7");
  }
  CHECK(ran.load() == 0);
}

TEST_CASE("the very exception object is passed on, not a copy of a base") {
  std::exception_ptr thrown;
  auto r = weft::spawn([&]() -> int {
             try {
               throw std::system_error(std::make_error_code(std::errc::timed_out), "deep");
             } catch (...) {
               thrown = std::current_exception();
               throw;
             }
           }).then([](int v) { return v; });
  try {
    r.get();
    FAIL("get() should have thrown");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::timed_out);
    CHECK(std::current_exception() == thrown);
  }
}

TEST_CASE("an Unfuture-form continuation can rethrow a different exception") {
  auto r = weft::spawn([]() -> int { throw std::runtime_error("low level"); })
               .then([](weft::Unfuture<int> u) -> int {
                 try {
                   return u.get();
                 } catch (const std::runtime_error& e) {
                   throw std::logic_error(std::string("wrapped: ") + e.what());
                 }
               });
  CHECK_THROWS_WITH_AS(r.get(), "wrapped: low level", std::logic_error);
}

TEST_CASE("a chain recovers in the middle and continues with values") {
  auto r = weft::spawn([]() -> int { throw std::runtime_error("x"); })
               .then([](int v) { return v + 1000; })  // skipped
               .then([](weft::Unfuture<int> u) {
                 try {
                   return u.get();
                 } catch (const std::runtime_error&) {
                   return -1;
                 }
               })
               .then([](int v) { return v * 2; });
  CHECK(r.get() == -2);
}

TEST_CASE("a failure thrown by a continuation passes through later value-form ones") {
  std::atomic<int> later{0};
  auto r = weft::spawn([] { return 1; })
               .then([](int) -> int { throw std::range_error("mid-chain"); })
               .then([&](int v) {
                 later.fetch_add(1);
                 return v;
               });
  CHECK_THROWS_WITH_AS(r.get(), "mid-chain", std::range_error);
  CHECK(later.load() == 0);
}

TEST_CASE("a non-std exception passes through too") {
  auto r = weft::spawn([]() -> int { throw 42; }).then([](int v) { return v; });
  try {
    r.get();
    FAIL("get() should have thrown");
  } catch (int v) {
    CHECK(v == 42);
  }
}

TEST_CASE("every handle to a failed Unfuture rethrows, as often as asked") {
  auto u = weft::spawn([]() -> int { throw std::runtime_error("again"); });
  auto copy = u;
  for (int i = 0; i < 3; ++i) {
    CHECK_THROWS_WITH_AS(u.get(), "again", std::runtime_error);
    CHECK_THROWS_WITH_AS(copy.get(), "again", std::runtime_error);
  }
}
