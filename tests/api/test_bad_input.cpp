// Bad input gets a clear exception and leaves the runtime healthy: NaN durations and
// deadlines (negative and overflowing ones are no error: they follow std, see
// test_durations_follow_std); operations on an empty Unfuture; a Promise set twice, moved
// from, or given a null exception. Each case runs in a fiber while another
// fiber keeps ticking, and on a plain thread.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using namespace std::chrono;

namespace {

// The kind of exception f throws and its message: "invalid_argument: ...", "none", ...
template <class F>
std::string outcome(F f) {
  try {
    f();
    return "none";
  } catch (const std::future_error& e) {
    if (e.code() == std::future_errc::no_state) return "future_error(no_state)";
    if (e.code() == std::future_errc::promise_already_satisfied) return "future_error(promise_already_satisfied)";
    return std::string("future_error: ") + e.what();
  } catch (const std::invalid_argument& e) {
    return std::string("invalid_argument: ") + e.what();
  } catch (const std::out_of_range& e) {
    return std::string("out_of_range: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A fiber that counts while the test runs, to show bad input elsewhere does not stop it.
struct Ticker {
  std::atomic<bool> stop{false};
  std::atomic<long> ticks{0};
  weft::Unfuture<void> fiber = weft::spawn([this] {
    while (!stop.load()) {
      ticks.fetch_add(1);
      weft::sleep_for(1ms);
    }
  });
  ~Ticker() {
    stop = true;
    fiber.get();
  }
  // True if it keeps ticking and new fibers still run.
  bool healthy() {
    const long before = ticks.load();
    const bool fibers_run = weft::run([] { return weft::spawn([] { return 1; }).get(); }) == 1;
    const auto give_up = steady_clock::now() + 5s;
    while (ticks.load() < before + 3 && steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    return fibers_run && ticks.load() >= before + 3;
  }
};

// Runs f on this plain thread and in a fiber; both outcomes must start with `expect`.
template <class F>
void check_both(const char* what, F f, const std::string& expect) {
  const std::string on_thread = outcome(f);
  const std::string in_fiber = weft::run([f] { return outcome(f); });
  INFO(what);
  CHECK_MESSAGE(starts_with(on_thread, expect), "plain thread: " << on_thread);
  CHECK_MESSAGE(starts_with(in_fiber, expect), "fiber: " << in_fiber);
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("sleep_for and sleep_until: NaN is invalid_argument; negative, past and overflowing are no error") {
  Ticker ticker;
  check_both("NaN", [] { weft::sleep_for(duration<double>(kNaN)); }, "invalid_argument: weft::sleep_for");
  check_both("system_clock NaN",
             [] { weft::sleep_until(time_point<system_clock, duration<double>>(duration<double>(kNaN))); },
             "invalid_argument: weft::sleep_until");
  check_both("steady_clock NaN",
             [] { weft::sleep_until(time_point<steady_clock, duration<double>>(duration<double>(kNaN))); },
             "invalid_argument: weft::sleep_until");
  // Negative and long past: no error, no wait.
  check_both("-1ns", [] { weft::sleep_for(nanoseconds(-1)); }, "none");
  check_both("ns::min", [] { weft::sleep_for(nanoseconds::min()); }, "none");
  check_both("-inf", [] { weft::sleep_for(duration<double>(-kInf)); }, "none");
  check_both("system_clock -inf",
             [] { weft::sleep_until(time_point<system_clock, duration<double>>(duration<double>(-kInf))); }, "none");
  CHECK(ticker.healthy());
}

TEST_CASE("wait_for and wait_until: NaN is invalid_argument before any waiting; negative polls") {
  Ticker ticker;
  weft::Promise<int> pending;
  const auto u = pending.get_unfuture();
  auto done = weft::spawn([] { return 1; });
  done.wait();
  for (const auto& h : {u, done}) {  // on a pending and on a completed Unfuture alike
    check_both("wait_for NaN", [h] { (void)h.wait_for(duration<double>(kNaN)); },
               "invalid_argument: weft::Unfuture::wait_for");
    check_both("wait_until system NaN",
               [h] { (void)h.wait_until(time_point<system_clock, duration<double>>(duration<double>(kNaN))); },
               "invalid_argument: weft::Unfuture::wait_until");
    check_both("wait_for -1ms", [h] { (void)h.wait_for(-1ms); }, "none");
    check_both("wait_for -inf", [h] { (void)h.wait_for(duration<double>(-kInf)); }, "none");
  }
  pending.set_value(1);
  CHECK(ticker.healthy());
}

TEST_CASE("the end of steady time is a valid deadline: wait until completion") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  auto waiter = weft::spawn([u] { return u.wait_until(steady_clock::time_point::max()); });
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    p.set_value(1);
  });
  CHECK(waiter.get());
  CHECK(u.wait_until(steady_clock::time_point::max()));
  setter.join();
}

TEST_CASE("an empty Unfuture: every operation but valid() throws future_error(no_state)") {
  Ticker ticker;
  weft::Unfuture<int> empty;
  CHECK_FALSE(empty.valid());
  check_both("get", [empty] { (void)empty.get(); }, "future_error(no_state)");
  check_both("rvalue get", [empty] { (void)weft::Unfuture<int>(empty).get(); }, "future_error(no_state)");
  check_both("wait", [empty] { empty.wait(); }, "future_error(no_state)");
  check_both("wait_for", [empty] { (void)empty.wait_for(1ms); }, "future_error(no_state)");
  check_both("wait_until", [empty] { (void)empty.wait_until(steady_clock::now()); }, "future_error(no_state)");
  check_both("ready", [empty] { (void)empty.ready(); }, "future_error(no_state)");
  check_both("then value form", [empty] { (void)empty.then([](int v) { return v; }); }, "future_error(no_state)");
  check_both("then Unfuture form", [empty] { (void)empty.then([](weft::Unfuture<int>) {}); },
             "future_error(no_state)");
  // A timeout that needs no wait still needs a handle.
  check_both("wait_for -1ms on empty", [empty] { (void)empty.wait_for(-1ms); }, "future_error(no_state)");
  CHECK(ticker.healthy());
}

TEST_CASE("a default-constructed Unfuture assigned a real one works") {
  weft::Unfuture<int> u;
  u = weft::spawn([] { return 3; });
  CHECK(u.valid());
  CHECK(u.get() == 3);
}

TEST_CASE("a Promise set twice: promise_already_satisfied, the first result stands") {
  Ticker ticker;
  {
    weft::Promise<int> p;
    p.set_value(1);
    CHECK(outcome([&] { p.set_value(2); }) == "future_error(promise_already_satisfied)");
    CHECK(outcome([&] { p.set_exception(std::make_exception_ptr(std::runtime_error("late"))); }) ==
          "future_error(promise_already_satisfied)");
    CHECK(p.get_unfuture().get() == 1);
  }
  {
    weft::Promise<int> p;
    p.set_exception(std::make_exception_ptr(std::runtime_error("first")));
    CHECK(outcome([&] { p.set_value(2); }) == "future_error(promise_already_satisfied)");
    CHECK(outcome([&] { p.set_exception(std::make_exception_ptr(std::logic_error("second"))); }) ==
          "future_error(promise_already_satisfied)");
    CHECK_THROWS_WITH_AS(p.get_unfuture().get(), "first", std::runtime_error);
  }
  {
    weft::Promise<void> p;
    p.set_value();
    CHECK(outcome([&] { p.set_value(); }) == "future_error(promise_already_satisfied)");
  }
  {
    // From a fiber, racing a plain thread: exactly one set wins.
    for (int round = 0; round < 50; ++round) {
      weft::Promise<int> p;
      std::atomic<int> wins{0};
      auto f = weft::spawn([&] {
        if (outcome([&] { p.set_value(1); }) == "none") wins.fetch_add(1);
      });
      std::thread t([&] {
        if (outcome([&] { p.set_value(2); }) == "none") wins.fetch_add(1);
      });
      t.join();
      f.get();
      CHECK(wins.load() == 1);
      const int v = p.get_unfuture().get();
      CHECK((v == 1 || v == 2));
    }
  }
  CHECK(ticker.healthy());
}

TEST_CASE("a moved-from Promise throws no_state; the moved-to one works") {
  Ticker ticker;
  weft::Promise<int> a;
  auto u = a.get_unfuture();
  weft::Promise<int> b(std::move(a));
  CHECK(outcome([&] { a.set_value(1); }) == "future_error(no_state)");
  CHECK(outcome([&] { a.set_exception(std::make_exception_ptr(std::runtime_error("x"))); }) ==
        "future_error(no_state)");
  CHECK(outcome([&] { (void)a.get_unfuture(); }) == "future_error(no_state)");
  CHECK_FALSE(u.ready());  // moving is not setting, nor breaking
  b.set_value(5);
  CHECK(u.get() == 5);

  weft::Promise<void> c;
  weft::Promise<void> d = std::move(c);
  CHECK(outcome([&] { c.set_value(); }) == "future_error(no_state)");
  d.set_value();
  CHECK(ticker.healthy());
}

TEST_CASE("move-assigning over an unset Promise breaks the old one") {
  weft::Promise<int> old_one;
  auto old_u = old_one.get_unfuture();
  weft::Promise<int> fresh;
  auto fresh_u = fresh.get_unfuture();
  old_one = std::move(fresh);
  try {
    old_u.get();
    FAIL("get() should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::broken_promise);
  }
  old_one.set_value(2);
  CHECK(fresh_u.get() == 2);
}

TEST_CASE("set_exception with a null exception_ptr is invalid_argument and sets nothing") {
  weft::Promise<int> p;
  CHECK(starts_with(outcome([&] { p.set_exception(nullptr); }), "invalid_argument"));
  CHECK_FALSE(p.get_unfuture().ready());
  p.set_value(3);  // still settable
  CHECK(p.get_unfuture().get() == 3);
}

TEST_CASE("a fiber whose body throws on bad input fails only its own Unfuture") {
  Ticker ticker;
  std::vector<weft::Unfuture<void>> bad;
  for (int i = 0; i < 100; ++i) {
    bad.push_back(weft::spawn([i] {
      if (i % 2 == 0) weft::sleep_for(duration<double>(kNaN));
      (void)weft::Unfuture<int>().get();
    }));
  }
  for (std::size_t i = 0; i < bad.size(); ++i) {
    if (i % 2 == 0) {
      CHECK_THROWS_AS(bad[i].get(), std::invalid_argument);
    } else {
      CHECK_THROWS_AS(bad[i].get(), std::future_error);
    }
  }
  CHECK(ticker.healthy());
}

TEST_CASE("deadlines whose conversion would overflow wait as long as the clock allows, not undefined behaviour") {
  // Each attempt runs in a fiber, so that one that waits "forever" shows as "hangs"; the
  // sleepers are abandoned at exit, the waiters released by the promise.
  auto within = [](auto f) {
    auto attempt = weft::spawn([f] { return outcome(f); });
    return attempt.wait_for(500ms) ? attempt.get() : std::string("hangs");
  };
  weft::Promise<int> pending;
  const auto u = pending.get_unfuture();
  using steady_hours = time_point<steady_clock, hours>;
  using steady_double = time_point<steady_clock, duration<double>>;
  using system_hours = time_point<system_clock, hours>;
  auto expect = [](const std::string& got, const std::string& prefix) {
    CHECK_MESSAGE(starts_with(got, prefix), "got " << got << ", expected " << prefix);
  };
  expect(within([u] { (void)u.wait_until(steady_hours(hours::max())); }), "hangs");
  expect(within([u] { (void)u.wait_until(steady_double(duration<double>(1e30))); }), "hangs");
  expect(within([u] { (void)u.wait_until(steady_double(duration<double>(kNaN))); }), "invalid_argument");
  expect(within([] { weft::sleep_until(system_hours(hours::max())); }), "hangs");
  // Deadlines long past: no error, no wait.
  expect(within([] { weft::sleep_until(system_clock::time_point::min()); }), "none");
  expect(within([] { weft::sleep_until(steady_hours(hours::min())); }), "none");
  pending.set_value(0);
}
