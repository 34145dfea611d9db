// Promise<T> and Promise<void> completed from a plain std::thread (or a fiber) while fibers
// and threads wait on their Unfutures; broken promises.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {
// Spins (politely) until `flag` reaches `n`; false after 10 s.
bool wait_count(const std::atomic<int>& flag, int n) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (flag.load() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}
}  // namespace

TEST_CASE("Promise<int> set from another thread wakes a waiting fiber") {
  weft::Promise<int> p;
  std::atomic<int> waiting{0};
  auto f = weft::spawn([&waiting, u = p.get_unfuture()] {
    waiting = 1;
    return u.get() + 1;
  });
  REQUIRE(wait_count(waiting, 1));
  std::this_thread::sleep_for(20ms);  // let the fiber park
  CHECK_FALSE(f.ready());
  std::thread setter([&] { p.set_value(41); });
  setter.join();
  CHECK(f.get() == 42);
}

TEST_CASE("Promise<void> set from another thread wakes a waiting fiber") {
  weft::Promise<void> p;
  std::atomic<int> waiting{0};
  auto f = weft::spawn([&waiting, u = p.get_unfuture()] {
    waiting = 1;
    u.get();
    return std::string("woke");
  });
  REQUIRE(wait_count(waiting, 1));
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(f.ready());
  std::thread setter([&] { p.set_value(); });
  setter.join();
  CHECK(f.get() == "woke");
}

TEST_CASE("set_exception from another thread reaches the waiting fiber") {
  weft::Promise<int> p;
  auto f = weft::spawn([u = p.get_unfuture()] { return u.get(); });
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    p.set_exception(std::make_exception_ptr(std::runtime_error("from thread")));
  });
  CHECK_THROWS_WITH_AS(f.get(), "from thread", std::runtime_error);
  setter.join();
}

TEST_CASE("many fibers and a plain thread wait; one set from a thread wakes all") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  std::atomic<int> waiting{0};
  std::vector<weft::Unfuture<int>> fibers;
  for (int i = 0; i < 50; ++i) {
    fibers.push_back(weft::spawn([&waiting, u, i] {
      waiting.fetch_add(1);
      return u.get() + i;
    }));
  }
  int thread_got = 0;
  std::thread plain([&] {
    waiting.fetch_add(1);
    thread_got = u.get();
  });
  REQUIRE(wait_count(waiting, 51));
  std::this_thread::sleep_for(20ms);
  std::thread([&] { p.set_value(1000); }).join();
  plain.join();
  CHECK(thread_got == 1000);
  for (int i = 0; i < 50; ++i) CHECK(fibers[static_cast<std::size_t>(i)].get() == 1000 + i);
}

TEST_CASE("waiting fibers park: the fiber that sets the promise still gets to run") {
  // Far more waiting fibers than worker threads; if a wait blocked its worker, the setter
  // fiber could never run and this would hang (CTest's timeout fails it).
  weft::Promise<void> p;
  std::vector<weft::Unfuture<void>> waiters;
  for (int i = 0; i < 200; ++i) waiters.push_back(weft::spawn([u = p.get_unfuture()] { u.get(); }));
  auto setter = weft::spawn([&p] {
    weft::sleep_for(10ms);
    p.set_value();
  });
  setter.get();
  for (auto& w : waiters) w.get();
}

TEST_CASE("a promise destroyed unset on another thread breaks it for waiters") {
  auto p = std::make_unique<weft::Promise<int>>();
  auto f = weft::spawn([u = p->get_unfuture()] { return u.get(); });
  std::thread([&] {
    std::this_thread::sleep_for(20ms);
    p.reset();
  }).join();
  try {
    f.get();
    FAIL("get() should have thrown");
  } catch (const std::future_error& e) {
    CHECK(e.code() == std::future_errc::broken_promise);
  }
}

TEST_CASE("a promise moved to another thread and set there") {
  weft::Promise<std::string> p;
  auto u = p.get_unfuture();
  std::thread t([q = std::move(p)]() mutable { q.set_value("moved"); });
  CHECK(weft::run([u] { return u.get(); }) == "moved");
  t.join();
}

TEST_CASE("a promise set from a fiber wakes a plain thread") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  auto setter = weft::spawn([&p] {
    weft::sleep_for(20ms);
    p.set_value(5);
  });
  CHECK(u.get() == 5);
  setter.get();  // set_value has returned: p may go
}

TEST_CASE("wait_for on a promise set later from a thread") {
  weft::Promise<int> p;
  auto u = p.get_unfuture();
  std::thread t([&] {
    std::this_thread::sleep_for(30ms);
    p.set_value(1);
  });
  bool got = weft::run([u] { return u.wait_for(10s); });
  CHECK(got);
  CHECK(u.get() == 1);
  t.join();
}

TEST_CASE("set_value constructs the value in place from several arguments") {
  weft::Promise<std::string> p;
  auto u = p.get_unfuture();
  std::thread([&] { p.set_value(3, 'x'); }).join();
  CHECK(weft::run([u] { return u.get(); }) == "xxx");
}
