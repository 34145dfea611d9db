// Recursion through flattening: each level returns the next level's Unfuture, so the
// outermost result completes only when the innermost does, through one forwarding
// callback per level. Those completions used to nest, one publish inside the callback of
// the one before, on the stack of whatever completed the innermost level: from about
// 1,500 levels a fiber's stack overflowed (defect 8 of issue 11). Completions now run one
// after another, however deep the chain.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace {

// Deep enough that nesting one frame per level overflows any stack weft would give a
// fiber, and a plain thread's 8 MiB too.
constexpr int kLevels = 50'000;

// spawn() of a function that returns the next level's Unfuture.
weft::Unfuture<int> spawn_levels(int n) {
  if (n == 0) return weft::spawn([] { return 42; });
  return weft::spawn([n] { return spawn_levels(n - 1); });
}

// then() continuations that each return the next level's Unfuture.
weft::Unfuture<int> then_levels(int n) {
  if (n == 0) return weft::spawn([] { return 43; });
  return weft::spawn([] {}).then([n] { return then_levels(n - 1); });
}

// kLevels fibers, each returning the Unfuture of the one before, the first returning
// `innermost`; returns once every level waits on the one before it.
weft::Unfuture<int> forwarding_chain(weft::Unfuture<int> innermost) {
  std::atomic<int> returned{0};
  weft::Unfuture<int> u = std::move(innermost);
  for (int i = 0; i < kLevels; ++i) {
    u = weft::spawn([u, &returned] {
      returned.fetch_add(1, std::memory_order_relaxed);
      return u;
    });
  }
  while (returned.load() < kLevels) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Each fiber hooks its level onto the one before just after returning.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return u;
}

}  // namespace

TEST_CASE("a spawn that returns the next level's Unfuture, 50,000 levels deep") {
  CHECK(weft::run([] { return spawn_levels(kLevels); }) == 42);
}

TEST_CASE("then continuations that return the next level's Unfuture, 50,000 levels deep") {
  CHECK(weft::run([] { return then_levels(kLevels); }) == 43);
}

TEST_CASE("a 50,000-level forwarding chain completed by set_value on a plain thread") {
  weft::Promise<int> p;
  auto outer = forwarding_chain(p.get_unfuture());
  CHECK_FALSE(outer.ready());
  std::thread([&p] { p.set_value(7); }).join();
  CHECK(outer.ready());  // completed inside that set_value, not later
  CHECK(outer.get() == 7);
}

TEST_CASE("a 50,000-level forwarding chain completed by set_value in a fiber") {
  weft::Promise<int> p;
  auto outer = forwarding_chain(p.get_unfuture());
  CHECK_FALSE(outer.ready());
  weft::run([&p] { p.set_value(3); });
  CHECK(outer.get() == 3);
}
