// Unfuture<void> through every part of the API: spawn, run, get, wait, wait_for,
// wait_until, ready, valid, both then forms, flattening, Promise<void>, when_all,
// when_any, spawn_blocking, failures.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <type_traits>

using namespace std::chrono_literals;

TEST_CASE("spawn of a void function: get, wait, ready, valid") {
  std::atomic<int> ran{0};
  weft::Unfuture<void> u = weft::spawn([&] {
    weft::sleep_for(20ms);
    ran = 1;
  });
  CHECK(u.valid());
  u.wait();
  CHECK(u.ready());
  CHECK(ran.load() == 1);
  static_assert(std::is_void_v<decltype(u.get())>);
  u.get();
  u.get();  // any number of times
  std::move(u).get();
}

TEST_CASE("wait_for and wait_until on Unfuture<void>") {
  weft::Promise<void> p;
  auto u = p.get_unfuture();
  CHECK_FALSE(u.wait_for(20ms));
  CHECK_FALSE(u.wait_until(std::chrono::steady_clock::now() + 20ms));
  CHECK_FALSE(u.wait_until(std::chrono::system_clock::now() + 20ms));
  p.set_value();
  CHECK(u.wait_for(0ms));
  CHECK(u.wait_until(std::chrono::steady_clock::now()));
}

TEST_CASE("run of a void function, and its exception") {
  std::atomic<bool> ran{false};
  weft::run([&] { ran = weft::in_fiber(); });
  CHECK(ran.load());
  CHECK_THROWS_WITH_AS(weft::run([] { throw std::runtime_error("void run"); }), "void run",
                       std::runtime_error);
}

TEST_CASE("a failed Unfuture<void> rethrows from get") {
  auto u = weft::spawn([] { throw std::domain_error("void failed"); });
  u.wait();
  CHECK(u.ready());
  CHECK_THROWS_WITH_AS(u.get(), "void failed", std::domain_error);
}

TEST_CASE("then: value form takes nothing; Unfuture form takes Unfuture<void>") {
  auto u = weft::spawn([] {});
  auto a = u.then([] { return 1; });
  auto b = u.then([](weft::Unfuture<void> done) {
    done.get();
    return 2;
  });
  auto c = u.then([] {});
  static_assert(std::is_same_v<decltype(c), weft::Unfuture<void>>);
  CHECK(a.get() == 1);
  CHECK(b.get() == 2);
  c.get();
}

TEST_CASE("then on a failed Unfuture<void>: value form skipped, Unfuture form runs") {
  std::atomic<int> value_form_ran{0};
  auto u = weft::spawn([] { throw std::runtime_error("v"); });
  auto a = u.then([&] { value_form_ran = 1; });
  auto b = u.then([](weft::Unfuture<void> done) {
    try {
      done.get();
      return false;
    } catch (const std::runtime_error&) {
      return true;
    }
  });
  CHECK_THROWS_WITH_AS(a.get(), "v", std::runtime_error);
  CHECK(b.get());
  CHECK(value_form_ran.load() == 0);
}

TEST_CASE("flattening: a continuation returning Unfuture<void>") {
  std::atomic<bool> inner{false};
  auto r = weft::spawn([] { return 3; }).then([&](int) {
    return weft::spawn([&] {
      weft::sleep_for(10ms);
      inner = true;
    });
  });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<void>>);
  r.get();
  CHECK(inner.load());
}

TEST_CASE("Promise<void>: set_value, set_exception, broken") {
  weft::Promise<void> ok;
  auto u = ok.get_unfuture();
  CHECK_FALSE(u.ready());
  ok.set_value();
  CHECK(u.ready());
  u.get();

  weft::Promise<void> bad;
  bad.set_exception(std::make_exception_ptr(std::runtime_error("promise void")));
  CHECK_THROWS_WITH_AS(bad.get_unfuture().get(), "promise void", std::runtime_error);

  weft::Unfuture<void> orphan;
  {
    weft::Promise<void> broken;
    orphan = broken.get_unfuture();
  }
  try {
    orphan.get();
    FAIL("get() should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::broken_promise);
  }
}

TEST_CASE("when_all and when_any over Unfuture<void>") {
  std::vector<weft::Unfuture<void>> us;
  us.push_back(weft::spawn([] { weft::sleep_for(300ms); }));
  us.push_back(weft::spawn([] { weft::sleep_for(5ms); }));
  CHECK(weft::when_any(us).get() == 1);
  weft::when_all(us).get();
  CHECK(us[0].ready());
  auto t = weft::when_all(us[0], us[1]).get();
  CHECK(std::get<0>(t) == std::monostate{});
}

TEST_CASE("spawn_blocking of a void function") {
  std::atomic<bool> ran{false};
  auto u = weft::spawn_blocking([&] { ran = !weft::in_fiber(); });
  static_assert(std::is_same_v<decltype(u), weft::Unfuture<void>>);
  u.get();
  CHECK(ran.load());
  CHECK_THROWS_AS(weft::spawn_blocking([] { throw std::bad_alloc(); }).get(), std::bad_alloc);
}

TEST_CASE("an empty Unfuture<void> throws no_state everywhere but valid()") {
  weft::Unfuture<void> empty;
  CHECK_FALSE(empty.valid());
  CHECK_THROWS_AS(empty.get(), std::future_error);
  CHECK_THROWS_AS(empty.wait(), std::future_error);
  CHECK_THROWS_AS((void)empty.ready(), std::future_error);
  CHECK_THROWS_AS((void)empty.wait_for(1ms), std::future_error);
  CHECK_THROWS_AS((void)empty.then([] {}), std::future_error);
}
