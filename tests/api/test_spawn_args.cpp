// spawn(f, args...) and run(f, args...): arguments decay-copied like std::thread's and
// invoked as rvalues (move-only ones work), results by value (move-only ones moved out of
// an rvalue handle), fire and forget, the FiberOptions overload, from threads and fibers.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {
int add(int a, int b) { return a + b; }
struct Functor {
  int base;
  int operator()(int x) const { return base + x; }
};
}  // namespace

TEST_CASE("free functions, functors, lambdas, member-less callables") {
  CHECK(weft::spawn(add, 2, 3).get() == 5);
  CHECK(weft::spawn(Functor{10}, 5).get() == 15);
  CHECK(weft::spawn(std::function<int()>([] { return 4; })).get() == 4);
  CHECK(weft::run(add, 1, 1) == 2);
}

TEST_CASE("arguments are copied at spawn time, not referenced") {
  std::string s = "before";
  auto u = weft::spawn(
      [](const std::string& copy) {
        weft::sleep_for(20ms);
        return copy;
      },
      s);
  s = "after";
  CHECK(u.get() == "before");
}

TEST_CASE("std::ref passes a reference when asked") {
  int counter = 0;
  weft::run([](int& c) { c = 42; }, std::ref(counter));
  CHECK(counter == 42);
}

TEST_CASE("move-only arguments and results") {
  auto u = weft::spawn([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); },
                       std::make_unique<int>(1));
  std::unique_ptr<int> r = std::move(u).get();
  REQUIRE(r);
  CHECK(*r == 2);
  CHECK(*weft::run([](std::unique_ptr<int> p) { return p; }, std::make_unique<int>(7)) == 7);
}

TEST_CASE("a fiber runs to completion without anyone keeping its handle") {
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) {
    weft::spawn([&done] {
      weft::sleep_for(5ms);
      done.fetch_add(1);
    });
  }
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (done.load() < 100 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  CHECK(done.load() == 100);
}

TEST_CASE("captured state is released when the fiber ends, not when the handle goes") {
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  auto u = weft::spawn([t = std::move(token)] { return *t; });
  CHECK(u.get() == 1);
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!watch.expired() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  CHECK(watch.expired());
  CHECK(u.valid());  // the handle still holds the result
  CHECK(u.get() == 1);
}

TEST_CASE("FiberOptions overload runs the function like the plain one") {
  auto u = weft::spawn(weft::FiberOptions{.name = "named"}, [](int a) { return a * 2; }, 21);
  CHECK(u.get() == 42);
  auto v = weft::spawn(weft::FiberOptions{}, [] { return std::string("unnamed"); });
  CHECK(v.get() == "unnamed");
}

TEST_CASE("spawn from many plain threads at once, and from fibers") {
  std::vector<std::thread> ts;
  std::atomic<int> sum{0};
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&sum, t] {
      std::vector<weft::Unfuture<int>> us;
      for (int i = 0; i < 100; ++i) us.push_back(weft::spawn([t, i] { return t * 1000 + i; }));
      for (auto& u : us) sum.fetch_add(u.get());
    });
  }
  for (auto& t : ts) t.join();
  int expect = 0;
  for (int t = 0; t < 8; ++t)
    for (int i = 0; i < 100; ++i) expect += t * 1000 + i;
  CHECK(sum.load() == expect);
  // Nested: a tree of fibers spawning fibers.
  std::function<int(int)> tree = [&tree](int depth) -> int {
    if (depth == 0) return 1;
    auto l = weft::spawn(tree, depth - 1);
    auto r = weft::spawn(tree, depth - 1);
    return l.get() + r.get();
  };
  CHECK(weft::run(tree, 10) == 1024);
}

TEST_CASE("run nested inside a fiber") {
  CHECK(weft::run([] { return weft::run([] { return 3; }) + 1; }) == 4);
}

TEST_CASE("a move-only callable") {
  auto p = std::make_unique<int>(8);
  CHECK(weft::spawn([q = std::move(p)] { return *q; }).get() == 8);
}

namespace {
struct ThrowsOnCopy {
  ThrowsOnCopy() = default;
  ThrowsOnCopy(const ThrowsOnCopy&) { throw std::runtime_error("copy failed"); }
};
}  // namespace

TEST_CASE("an argument whose copy throws: spawn throws, nothing runs, the runtime carries on") {
  std::atomic<int> ran{0};
  ThrowsOnCopy arg;
  CHECK_THROWS_WITH_AS(weft::spawn([&ran](const ThrowsOnCopy&) { ran.fetch_add(1); }, arg), "copy failed",
                       std::runtime_error);
  std::this_thread::sleep_for(20ms);
  CHECK(ran.load() == 0);
  CHECK(weft::run([] { return 1; }) == 1);
}
