// A fiber that unlocks a std::mutex and locks it again at once, in a loop, holding it across
// a yield, must not starve another fiber of its worker that waits for it. Released and
// woken, the waiter used to find the mutex taken again every time (nothing preempts the
// looping fiber) and parked again until the loop ended (found by the lock benchmark: a
// livelock). The unlock now hands the mutex to the parked fiber.
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

TEST_CASE("a fiber relocking a std::mutex in a loop lets a waiting fiber of its worker in at its next unlock") {
  weft_test::one_worker();
  constexpr int kRounds = 200;
  std::mutex m;
  std::atomic<int> round{0};
  const int waiter_got_in_at = weft::run([&] {
    auto looper = weft::spawn([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lk(m);
        round = i;
        weft::this_fiber::yield();  // the waiter runs here, finds it held, parks
      }
    });
    weft::this_fiber::yield();  // let the looper take it first
    int at;
    {
      std::lock_guard lk(m);
      at = round.load();
    }
    looper.get();
    return at;
  });
  INFO("the waiter got in after round " << waiter_got_in_at << " of " << kRounds);
  CHECK(waiter_got_in_at < 3);
}

TEST_CASE("fibers waiting for a std::mutex get it in the order they came, also from a plain thread's unlock") {
  weft_test::one_worker();
  std::mutex m;
  std::vector<int> order;
  std::atomic<bool> held{false}, release{false};
  std::thread holder([&] {
    std::lock_guard lk(m);
    held = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });  // its unlock, a plain thread's, hands the mutex to the first fiber
  while (!held) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  weft::run([&] {
    std::vector<weft::Unfuture<void>> waiters;
    for (int i = 0; i < 5; ++i) {
      waiters.push_back(weft::spawn([&, i] {
        std::lock_guard lk(m);
        order.push_back(i);
        weft::this_fiber::yield();  // the others run meanwhile, still queued behind
      }));
      weft::this_fiber::yield();  // waiter i parks before i + 1 comes
    }
    release = true;
    for (auto& w : waiters) w.get();
  });
  holder.join();
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
}
