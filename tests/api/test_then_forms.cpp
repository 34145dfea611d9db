// Unfuture::then(c), both forms: c taking the value (skipped on failure, which passes
// through to the result) and c taking the completed Unfuture (runs even on failure).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("value form: c gets the value and its result becomes the new Unfuture's") {
  auto u = weft::spawn([] { return 20; });
  auto r = u.then([](int v) { return std::to_string(v + 1); });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<std::string>>);
  CHECK(r.get() == "21");
  CHECK(u.get() == 20);  // the source is untouched
}

TEST_CASE("value form: c taking const T& sees the stored value") {
  auto u = weft::spawn([] { return std::vector<int>{1, 2, 3}; });
  auto r = u.then([](const std::vector<int>& v) { return v.size(); });
  CHECK(r.get() == 3);
}

TEST_CASE("Unfuture form: c gets the completed Unfuture") {
  auto u = weft::spawn([] { return 5; });
  auto r = u.then([](weft::Unfuture<int> done) {
    CHECK(done.ready());
    return done.get() * 2;
  });
  CHECK(r.get() == 10);
}

TEST_CASE("value form is skipped on failure and the failure passes through") {
  std::atomic<int> ran{0};
  auto u = weft::spawn([]() -> int { throw std::runtime_error("source failed"); });
  auto r = u.then([&](int v) {
    ran.fetch_add(1);
    return v;
  });
  CHECK_THROWS_WITH_AS(r.get(), "source failed", std::runtime_error);
  CHECK(ran.load() == 0);
}

TEST_CASE("Unfuture form runs on failure and can recover") {
  auto u = weft::spawn([]() -> int { throw std::runtime_error("source failed"); });
  auto r = u.then([](weft::Unfuture<int> done) {
    try {
      return done.get();
    } catch (const std::runtime_error& e) {
      return static_cast<int>(std::string(e.what()).size());
    }
  });
  CHECK(r.get() == 13);
}

TEST_CASE("c does not run before the source completes") {
  weft::Promise<int> p;
  std::atomic<bool> ran{false};
  auto r = p.get_unfuture().then([&](int v) {
    ran = true;
    return v;
  });
  std::this_thread::sleep_for(30ms);
  CHECK_FALSE(ran.load());
  CHECK_FALSE(r.ready());
  p.set_value(3);
  CHECK(r.get() == 3);
  CHECK(ran.load());
}

TEST_CASE("then on an Unfuture that is already complete runs c") {
  auto u = weft::spawn([] { return 1; });
  u.wait();
  CHECK(u.then([](int v) { return v + 1; }).get() == 2);
  CHECK(u.then([](weft::Unfuture<int> d) { return d.get() + 2; }).get() == 3);
}

TEST_CASE("c runs as a fiber and may block in the ordinary way") {
  auto u = weft::spawn([] { return 1; });
  auto r = u.then([](int v) {
    CHECK(weft::in_fiber());
    weft::sleep_for(10ms);
    auto inner = weft::spawn([v] { return v + 1; });
    return inner.get();  // joining inside a continuation
  });
  CHECK(r.get() == 2);
}

TEST_CASE("several continuations on one Unfuture all run, each with the value") {
  auto u = weft::spawn([] {
    weft::sleep_for(10ms);
    return 7;
  });
  std::vector<weft::Unfuture<int>> rs;
  for (int i = 0; i < 50; ++i) rs.push_back(u.then([i](int v) { return v * 100 + i; }));
  for (int i = 0; i < 50; ++i) CHECK(rs[static_cast<std::size_t>(i)].get() == 700 + i);
}

TEST_CASE("chains of then keep order and values") {
  auto r = weft::spawn([] { return 1; })
               .then([](int v) { return v + 1; })
               .then([](weft::Unfuture<int> u) { return u.get() * 10; })
               .then([](int v) { return std::to_string(v); });
  CHECK(r.get() == "20");
}

TEST_CASE("c returning void gives Unfuture<void>") {
  std::atomic<int> seen{0};
  auto r = weft::spawn([] { return 4; }).then([&](int v) { seen = v; });
  static_assert(std::is_same_v<decltype(r), weft::Unfuture<void>>);
  r.get();
  CHECK(seen.load() == 4);
}

TEST_CASE("a continuation that throws fails its result, not the source") {
  auto u = weft::spawn([] { return 1; });
  auto r = u.then([](int) -> int { throw std::logic_error("in continuation"); });
  CHECK_THROWS_WITH_AS(r.get(), "in continuation", std::logic_error);
  CHECK(u.get() == 1);
}

TEST_CASE("then called from inside a fiber and from another thread") {
  auto u = weft::spawn([] {
    weft::sleep_for(20ms);
    return 2;
  });
  // run() flattens the Unfuture the fiber returns.
  int from_fiber = weft::run([u] { return u.then([](int v) { return v * 3; }); });
  weft::Unfuture<int> from_thread;
  std::thread t([&] { from_thread = u.then([](int v) { return v * 5; }); });
  t.join();
  CHECK(from_fiber == 6);
  CHECK(from_thread.get() == 10);
}

TEST_CASE("then on a move-only value: c may take it by const reference") {
  auto u = weft::spawn([] { return std::make_unique<int>(9); });
  auto r = u.then([](const std::unique_ptr<int>& p) { return *p + 1; });
  CHECK(r.get() == 10);
  CHECK(*u.get() == 9);
}
