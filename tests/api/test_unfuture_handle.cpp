// Unfuture as a handle: copies share one result, get() any number of times from any
// number of fibers and threads, ready() flips exactly when the work completes, wait()
// waits, valid() tells an empty handle, and get() on an rvalue moves a move-only value.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("valid: true for spawned and promised handles, false for default ones") {
  CHECK_FALSE(weft::Unfuture<int>().valid());
  CHECK(weft::spawn([] { return 1; }).valid());
  weft::Promise<int> p;
  CHECK(p.get_unfuture().valid());
  p.set_value(0);
}

TEST_CASE("ready flips when the work completes, and wait waits for it") {
  weft::Promise<void> go;
  auto u = weft::spawn([g = go.get_unfuture()] {
    g.get();
    return 5;
  });
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(u.ready());
  go.set_value();
  u.wait();
  CHECK(u.ready());
  CHECK(u.get() == 5);
}

TEST_CASE("get by const reference returns the stored value, the same object each time") {
  auto u = weft::spawn([] { return std::string("shared"); });
  const std::string& a = u.get();
  const std::string& b = u.get();
  CHECK(&a == &b);
  auto copy = u;
  CHECK(&copy.get() == &a);
  CHECK(a == "shared");
}

TEST_CASE("copies share the result; any copy may be joined, in any order") {
  auto u = weft::spawn([] {
    weft::sleep_for(10ms);
    return 9;
  });
  std::vector<weft::Unfuture<int>> copies(10, u);
  u = weft::Unfuture<int>();  // the original going away changes nothing
  for (auto& c : copies) CHECK(c.get() == 9);
}

TEST_CASE("get on an rvalue handle moves a move-only value out") {
  auto u = weft::spawn([] { return std::make_unique<std::string>("moved"); });
  auto v = std::move(u).get();
  REQUIRE(v);
  CHECK(*v == "moved");
}

TEST_CASE("get on an rvalue handle copies a copyable value (other handles still see it)") {
  auto u = weft::spawn([] { return std::vector<int>{1, 2, 3}; });
  auto other = u;
  std::vector<int> v = std::move(u).get();
  CHECK(v.size() == 3);
  CHECK(other.get().size() == 3);
}

TEST_CASE("get many times from fibers and threads concurrently") {
  auto u = weft::spawn([] {
    weft::sleep_for(20ms);
    return 77;
  });
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      for (int k = 0; k < 100; ++k) ok.fetch_add(u.get() == 77);
    });
  }
  std::vector<weft::Unfuture<void>> fs;
  for (int i = 0; i < 20; ++i) {
    fs.push_back(weft::spawn([&] {
      for (int k = 0; k < 20; ++k) ok.fetch_add(u.get() == 77);
    }));
  }
  for (auto& t : ts) t.join();
  for (auto& f : fs) f.get();
  CHECK(ok.load() == 800);
}

TEST_CASE("value_type names the result type") {
  static_assert(std::is_same_v<weft::Unfuture<int>::value_type, int>);
  static_assert(std::is_same_v<weft::Unfuture<void>::value_type, void>);
}
