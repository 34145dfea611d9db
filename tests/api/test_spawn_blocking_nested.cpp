// spawn_blocking tasks that wait for other spawn_blocking tasks must not starve the pool.
// With blocking_threads = 2, two tasks that each wait (Unfuture::get) for a task still in
// the queue hold both threads; unless a thread blocked in a weft wait lets another thread
// start in its place, the queued tasks never run and everything waits for ever.
//
// Nesting deeper than the pool from fibers and plain threads at once, and pool tasks that
// wait for Promises kept by tasks queued behind them, must all finish. Each wait is bounded,
// so the old hang shows up as a failed check instead of a CTest timeout.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr unsigned kPoolThreads = 2;
constexpr int kDepth = 8;  // well past kPoolThreads
constexpr auto kBound = 10s;

void two_workers_small_pool() {
  static const bool once = [] {
    weft::configure({.threads = 2, .blocking_threads = kPoolThreads});
    return true;
  }();
  (void)once;
}

// Counts the levels on the way back up: kDepth when every level ran.
int nest(int depth) {
  if (depth == 0) return 0;
  return weft::spawn_blocking(nest, depth - 1).get() + 1;
}

// A pool that stays starved leaves its threads blocked for good; the process could then
// not finish its tests, so say so and end it.
void give_up_if_starved(bool finished) {
  if (finished) return;
  std::fprintf(stderr, "spawn_blocking pool starved: nested tasks never ran\n");
  std::fflush(nullptr);  // doctest's report of the failed check, too
  std::_Exit(1);
}

}  // namespace

TEST_CASE("spawn_blocking nested deeper than blocking_threads completes, from fibers and threads") {
  two_workers_small_pool();
  std::vector<weft::Unfuture<int>> from_fibers;
  for (int i = 0; i < 2; ++i) {
    from_fibers.push_back(weft::spawn([] { return weft::spawn_blocking(nest, kDepth).get(); }));
  }
  std::vector<weft::Unfuture<int>> from_threads(2);
  std::vector<std::thread> threads;
  for (auto& u : from_threads) {
    threads.emplace_back([&u] { u = weft::spawn_blocking(nest, kDepth); });
  }
  for (auto& t : threads) t.join();

  const auto give_up = std::chrono::steady_clock::now() + kBound;
  bool all = true;
  for (auto* list : {&from_fibers, &from_threads}) {
    for (auto& u : *list) all = u.wait_until(give_up) && all;
  }
  CHECK_MESSAGE(all, "nested spawn_blocking calls still waiting after " << kBound.count() << " s");
  give_up_if_starved(all);
  for (auto& u : from_fibers) CHECK(u.get() == kDepth);
  for (auto& u : from_threads) CHECK(u.get() == kDepth);
}

TEST_CASE("pool tasks waiting on Promises kept by tasks queued behind them complete") {
  two_workers_small_pool();
  constexpr int kPairs = 4;  // twice the pool: every thread starts with a waiter
  std::vector<weft::Promise<int>> promises(kPairs);
  std::vector<weft::Unfuture<int>> waiters;
  for (int i = 0; i < kPairs; ++i) {
    auto u = promises[i].get_unfuture();
    waiters.push_back(weft::spawn_blocking([u] { return u.get() * 10; }));
  }
  // The keepers queue behind the waiters; one is submitted from a fiber, one from a thread.
  std::vector<weft::Unfuture<void>> keepers;
  for (int i = 0; i < kPairs; ++i) {
    auto keep = [&promises, i] { promises[i].set_value(i); };
    if (i % 2 == 0) {
      weft::run([&] { keepers.push_back(weft::spawn_blocking(keep)); });
    } else {
      std::thread([&] { keepers.push_back(weft::spawn_blocking(keep)); }).join();
    }
  }
  const auto give_up = std::chrono::steady_clock::now() + kBound;
  bool all = true;
  for (auto& u : waiters) all = u.wait_until(give_up) && all;
  CHECK_MESSAGE(all, "pool tasks waiting on Promises still waiting after " << kBound.count() << " s");
  give_up_if_starved(all);
  for (int i = 0; i < kPairs; ++i) CHECK(waiters[i].get() == i * 10);
  for (auto& k : keepers) k.get();
}

TEST_CASE("once the waits are over, no more than blocking_threads tasks run at once") {
  two_workers_small_pool();
  auto nested = weft::spawn_blocking(nest, kDepth);
  const bool finished = nested.wait_for(kBound);
  CHECK(finished);
  give_up_if_starved(finished);
  CHECK(nested.get() == kDepth);

  // The threads that stood in for waiting ones must be gone (or go) rather than run more
  // tasks at once than the bound allows.
  std::atomic<int> in_flight{0}, most{0};
  std::vector<weft::Unfuture<void>> tasks;
  for (int i = 0; i < 8; ++i) {
    tasks.push_back(weft::spawn_blocking([&] {
      const int now = in_flight.fetch_add(1) + 1;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      std::this_thread::sleep_for(30ms);
      in_flight.fetch_sub(1);
    }));
  }
  for (auto& t : tasks) t.get();
  MESSAGE("at most " << most.load() << " tasks at once");
  CHECK(most.load() <= static_cast<int>(kPoolThreads));
}
