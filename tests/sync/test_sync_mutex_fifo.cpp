// weft::Mutex is FIFO when contended: unlock hands it to the oldest waiter, so waiters get
// it in the order they came, a newcomer cannot take it from them, and contenders that
// loop on it (fibers and plain threads) take turns instead of one starving the others.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

TEST_CASE("waiters on both workers get the mutex in the order they started waiting") {
  weft_test::require_two_workers();
  weft::Mutex m;
  std::vector<int> order;  // guarded by m
  constexpr int kWaiters = 8;
  m.lock();  // this plain thread holds it while the queue forms
  std::vector<weft::Unfuture<void>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(weft::spawn([&, i] {
      std::lock_guard g(m);
      order.push_back(i);
    }));
    // Spawned round robin over the workers; each is parked (its record says so, naming
    // m) before the next starts, so arrival order is i's order.
    REQUIRE(weft_test::wait_parked_on(&m, static_cast<std::size_t>(i) + 1, weft::WaitKind::mutex));
  }
  m.unlock();
  // Handed straight to waiter 0: a mutex that let itself go free and woke a waiter to
  // race for it would let this newcomer in.
  const bool newcomer_got_it = m.try_lock();
  if (newcomer_got_it) m.unlock();
  for (auto& w : waiters) w.get();
  CHECK_FALSE(newcomer_got_it);
  std::vector<int> expected(kWaiters);
  for (int i = 0; i < kWaiters; ++i) expected[i] = i;
  CHECK(order == expected);  // LIFO, or any order but arrival, shows here
}

TEST_CASE("fibers and threads that loop on the mutex all get turns: none starves") {
  weft_test::require_two_workers();
  weft::Mutex m;
  constexpr int kFibers = 4, kThreads = 2, kTurns = 60;
  std::map<int, int> turns;  // guarded by m
  std::atomic<bool> stop{false};
  std::atomic<int> finished{0};
  std::atomic<int> busy{0};
  std::atomic<int> arrived{0};  // a critical section that takes a moment
  weft_test::on_fibers_and_threads(kFibers, kThreads, [&](int who) {
    // Each contender relocks at once: with barging, the unlocker (which is still on
    // the CPU) would win the race against the waiter it just woke, over and over.
    ++arrived;  // all start together, or the first would finish alone before the rest came
    while (arrived.load() < kFibers + kThreads) weft::this_fiber::yield();
    int mine = 0;
    while (mine < kTurns && !stop.load()) {
      std::lock_guard g(m);
      mine = ++turns[who];
      // Held for a while (a fiber parks, a thread sleeps), so the others are all queued
      // by the time it unlocks.
      weft::sleep_for(std::chrono::microseconds(500));
    }
    if (finished.fetch_add(1) == 0) stop = true;  // the first to finish stops the rest
  });
  // When the first contender reached kTurns, FIFO hand-off had given everyone else within
  // a round of it; an unfair mutex leaves some far behind (often at a handful).
  for (int who = 0; who < kFibers + kThreads; ++who) {
    INFO("contender " << who << std::string(who < kFibers ? " (fiber)" : " (thread)"));
    CHECK(turns[who] >= kTurns / 2);
  }
}
