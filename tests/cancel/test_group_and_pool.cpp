// weft::Group and weft::Pool (issue 15, item 3), on two workers with plain threads
// spawning too: join waits for every child; the first failure cancels the rest (parked
// ones at once, unstarted ones never run) and is rethrown; cancel() stops all, now and
// later; a Pool never runs more than its limit; the destructor waits; a cancelled joiner
// takes its children with it.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;

TEST_CASE("join waits for every child, from a fiber and from a plain thread") {
  weft::configure({.threads = 2});
  std::atomic<int> done{0};
  {
    weft::Group g;
    for (int i = 0; i < 50; ++i) {
      g.spawn([&, i] {
        weft::sleep_for(std::chrono::milliseconds(i % 7));
        done.fetch_add(1);
      });
    }
    g.join();
    CHECK(done.load() == 50);
    CHECK(g.size() == 0);
  }
  const int seen = weft::run([&] {
    weft::Group g;
    for (int i = 0; i < 50; ++i) g.spawn([&] { done.fetch_add(1); });
    g.join();
    return done.load();
  });
  CHECK(seen == 100);
}

TEST_CASE("the first failure cancels the others, which never finish their waits, and join rethrows it") {
  std::atomic<int> finished_sleeps{0};
  std::atomic<int> cancelled_seen{0};
  std::atomic<bool> unstarted_ran{false};
  const auto start = Clock::now();
  std::string rethrown;
  try {
    weft::run([&] {
      weft::Group g;
      for (int i = 0; i < 10; ++i) {
        g.spawn([&] {
          try {
            weft::sleep_for(10s);
            finished_sleeps.fetch_add(1);
          } catch (const weft::cancelled_error&) {
            cancelled_seen.fetch_add(1);
            throw;
          }
        });
      }
      g.spawn([] {
        weft::sleep_for(20ms);
        throw std::runtime_error("child failed");
      });
      weft::sleep_for(100ms);  // the failure has happened: later children never run
      CHECK(g.cancelled());
      g.spawn([&] { unstarted_ran = true; });
      g.join();
    });
  } catch (const std::runtime_error& e) {
    rethrown = e.what();
  }
  CHECK(rethrown == "child failed");
  CHECK(finished_sleeps.load() == 0);
  CHECK(cancelled_seen.load() == 10);
  CHECK_FALSE(unstarted_ran.load());
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("cancel() stops every child, from a plain thread; join then returns normally") {
  weft::Group g;
  std::atomic<int> parked{0};
  std::vector<weft::Unfuture<int>> children;
  for (int i = 0; i < 20; ++i) {
    children.push_back(g.spawn([&] {
      parked.fetch_add(1);
      weft::sleep_for(10s);
      return 1;
    }));
  }
  while (parked.load() < 20) std::this_thread::sleep_for(1ms);
  const auto took = weft_test::took([&] {
    g.cancel();
    g.join();
  });
  CHECK(took < 2s);
  for (auto& c : children) CHECK_THROWS_AS(c.get(), weft::cancelled_error);
  auto late = g.spawn([] { return 2; });
  CHECK_THROWS_AS(late.get(), weft::cancelled_error);
}

TEST_CASE("the destructor waits for children that are still running") {
  std::atomic<bool> finished{false};
  const auto took = weft_test::took([&] {
    weft::Group g;
    g.spawn([&] {
      weft::sleep_for(50ms);
      finished = true;
    });
  });
  CHECK(finished.load());
  CHECK(took >= 50ms);
}

TEST_CASE("a joiner that is cancelled cancels its children and waits for them first") {
  std::atomic<int> children_ended{0};
  std::atomic<bool> joining{false};
  auto parent = weft::spawn([&] {
    weft::Group g;
    for (int i = 0; i < 5; ++i) {
      g.spawn([&] {
        try {
          weft::sleep_for(10s);
        } catch (...) {
          children_ended.fetch_add(1);
          throw;
        }
      });
    }
    joining = true;
    g.join();
  });
  while (!joining.load()) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  CHECK(parent.cancel());
  CHECK_THROWS_AS(parent.get(), weft::cancelled_error);
  CHECK(children_ended.load() == 5);  // all had ended before the parent's join threw
}

TEST_CASE("a Pool runs at most its limit at once, and spawn waits for room") {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  const int total = weft::run([&] {
    weft::Pool pool(3);
    CHECK(pool.limit() == 3);
    std::atomic<int> ran{0};
    for (int i = 0; i < 30; ++i) {
      pool.spawn([&] {
        const int inside = now.fetch_add(1) + 1;
        int seen = most.load();
        while (inside > seen && !most.compare_exchange_weak(seen, inside)) {
        }
        weft::sleep_for(2ms);
        now.fetch_sub(1);
        ran.fetch_add(1);
      });
      CHECK(pool.size() <= 3);
    }
    pool.join();
    return ran.load();
  });
  CHECK(total == 30);
  CHECK(most.load() == 3);  // reached, never passed
  CHECK_THROWS_AS(weft::Pool(0), std::invalid_argument);
}

TEST_CASE("a Pool's failed child gives its room back and the pool's waiting spawner is not stuck") {
  weft::Pool pool(1);
  auto failing = pool.spawn([]() -> int { throw std::logic_error("bad"); });
  // Room comes back when the failure ends the child; this spawn must not hang (the group
  // is cancelled by then, so the child is cancelled before it runs).
  auto next = pool.spawn([] { return 5; });
  CHECK_THROWS_AS(pool.join(), std::logic_error);
  CHECK_THROWS_AS(failing.get(), std::logic_error);
  CHECK_THROWS_AS(next.get(), weft::cancelled_error);
}
