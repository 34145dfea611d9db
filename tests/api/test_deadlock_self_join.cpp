// A fiber that waits for its own Unfuture would wait forever: get()/wait()/wait_for()/
// wait_until() throw weft::deadlock_error (a std::system_error with
// errc::resource_deadlock_would_occur) instead, and the runtime carries on.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// What a self-join attempt threw: "" if nothing.
template <class F>
std::string what_self_join_threw(F attempt) {
  try {
    attempt();
    return "";
  } catch (const weft::deadlock_error& e) {
    return e.code() == std::errc::resource_deadlock_would_occur ? "deadlock_error" : "wrong code";
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
}

}  // namespace

TEST_CASE("deadlock_error is a std::system_error with resource_deadlock_would_occur") {
  const weft::deadlock_error e("x");
  const std::system_error& base = e;
  CHECK(base.code() == std::errc::resource_deadlock_would_occur);
}

TEST_CASE("a fiber calling get() on its own Unfuture gets deadlock_error") {
  weft::Promise<weft::Unfuture<std::string>> self_handle;
  auto me = weft::spawn([h = self_handle.get_unfuture()] {
    weft::Unfuture<std::string> self = h.get();
    std::string r = what_self_join_threw([&] { (void)self.get(); });
    r += "," + what_self_join_threw([&] { self.wait(); });
    r += "," + what_self_join_threw([&] { (void)self.wait_for(10s); });
    r += "," + what_self_join_threw([&] { (void)self.wait_until(std::chrono::steady_clock::now() + 10s); });
    return r;  // the fiber itself carries on and completes
  });
  self_handle.set_value(me);
  REQUIRE(me.wait_for(std::chrono::seconds(10 * WEFT_TEST_SLACK)));
  CHECK(me.get() == "deadlock_error,deadlock_error,deadlock_error,deadlock_error");
}

TEST_CASE("an uncaught self-join error fails the fiber's own Unfuture") {
  weft::Promise<weft::Unfuture<int>> self_handle;
  auto me = weft::spawn([h = self_handle.get_unfuture()] { return h.get().get() + 1; });
  self_handle.set_value(me);
  CHECK_THROWS_AS(me.get(), weft::deadlock_error);
}

TEST_CASE("a continuation joining its own result gets deadlock_error") {
  weft::Promise<weft::Unfuture<std::string>> self_handle;
  auto r = weft::spawn([] { return 1; }).then([h = self_handle.get_unfuture()](int) {
    return what_self_join_threw([&] { (void)h.get().get(); });
  });
  self_handle.set_value(r);
  CHECK(r.get() == "deadlock_error");
}

TEST_CASE("joining another fiber's Unfuture is not a deadlock; the runtime stays healthy") {
  for (int round = 0; round < 20; ++round) {
    weft::Promise<weft::Unfuture<int>> self_handle;
    auto me = weft::spawn([h = self_handle.get_unfuture()]() -> int {
      try {
        return h.get().get();
      } catch (const weft::deadlock_error&) {
        return -1;
      }
    });
    self_handle.set_value(me);
    CHECK(me.get() == -1);
  }
  // Many fibers join each other (a chain) with no false deadlock reports.
  std::vector<weft::Unfuture<int>> chain{weft::spawn([] { return 0; })};
  for (int i = 1; i < 100; ++i) {
    chain.push_back(weft::spawn([prev = chain.back()] {
      weft::this_fiber::yield();
      return prev.get() + 1;
    }));
  }
  CHECK(chain.back().get() == 99);
  CHECK(weft::run([] { return weft::spawn([] { return 5; }).get(); }) == 5);
}

TEST_CASE("a completed Unfuture read by the fiber that produced it is no deadlock") {
  // Once a state is complete, get() on it is fine from anywhere, including a later
  // fiber that reuses the same stack or context.
  auto u = weft::spawn([] { return 3; });
  CHECK(u.get() == 3);
  CHECK(weft::run([u] { return u.get(); }) == 3);
}

TEST_CASE("no false deadlock_error from a flattened Unfuture whose fiber has ended") {
  // spawn(f) where f returns an Unfuture: f's fiber ends at once, the result completes
  // later, with the inner Unfuture. A new fiber on the same worker reuses f's stack (and so
  // the address of its fiber context); waiting on the result from there is no self-join.
  weft::Promise<int> inner;
  auto outcome = weft::run([&inner] {
    auto flat = weft::spawn([u = inner.get_unfuture()] { return u; });
    weft::sleep_for(20ms);  // f has run and ended; its stack is back in the pool
    std::vector<weft::Unfuture<std::string>> waiters;
    for (int i = 0; i < 8; ++i) {
      waiters.push_back(weft::spawn([flat] {
        try {
          return std::to_string(flat.get());
        } catch (const weft::deadlock_error&) {
          return std::string("false deadlock_error");
        }
      }));
      weft::sleep_for(2ms);
    }
    return waiters;
  });
  inner.set_value(7);
  for (auto& w : outcome) CHECK(w.get() == "7");
}
