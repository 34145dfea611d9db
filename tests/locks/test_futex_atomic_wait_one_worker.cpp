// std::atomic<T>::wait/notify_*, std::counting_semaphore and std::latch wait in
// libstdc++'s header code with syscall(SYS_futex, FUTEX_WAIT_PRIVATE / WAIT_BITSET_PRIVATE).
// Between fibers of one worker each of these deadlocked before the futex shim: the waiter
// slept in the kernel, and the fiber that was to notify, release or count down (after a
// hooked sleep) never ran; the deadlock guard fails the test. Each checks also that the
// wait ended because of the other fiber (its effect is visible) and not by itself.
#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <semaphore>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("atomic<int>::wait in fibers, notify_one and notify_all from a fiber of the same worker") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::atomic<int> word{0};
    std::atomic<int> seen_one{0}, seen_all{0};
    auto first = weft::spawn([&] {
      word.wait(0);  // the kernel's spin first, then the futex
      seen_one = word.load();
    });
    auto notifier = weft::spawn([&] {
      std::this_thread::sleep_for(10ms);
      word = 1;
      word.notify_one();
    });
    first.get();
    notifier.get();
    std::vector<weft::Unfuture<void>> waiters;
    for (int i = 0; i < 5; ++i) {
      waiters.push_back(weft::spawn([&] {
        word.wait(1);
        seen_all += word.load() == 2 ? 1 : 0;
      }));
    }
    std::this_thread::sleep_for(10ms);
    word = 2;
    word.notify_all();
    for (auto& w : waiters) w.get();
    return seen_one.load() * 10 + seen_all.load();
  });
  CHECK(weft_test::finish_or_die(done, "atomic::wait blocked the worker of its notifier") == 15);
}

TEST_CASE("counting_semaphore: fibers acquire what a fiber of the same worker releases, try_acquire_for times out") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::counting_semaphore<8> sem(0);
    std::atomic<int> released{0}, acquired_after_release{0};
    std::vector<weft::Unfuture<void>> takers;
    for (int i = 0; i < 4; ++i) {
      takers.push_back(weft::spawn([&] {
        sem.acquire();
        if (released.load() > 0) ++acquired_after_release;
      }));
    }
    auto releaser = weft::spawn([&] {
      std::this_thread::sleep_for(10ms);
      released = 4;
      sem.release(4);
    });
    for (auto& t : takers) t.get();
    releaser.get();
    // Nothing left: a timed acquire gives up (FUTEX_WAIT_BITSET, absolute monotonic).
    const auto t0 = std::chrono::steady_clock::now();
    const bool got = sem.try_acquire_for(30ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    return std::tuple{acquired_after_release.load(), got, took};
  });
  const auto [after, got, took] = weft_test::finish_or_die(done, "a semaphore acquire blocked its releaser's worker");
  CHECK(after == 4);
  CHECK_FALSE(got);
  CHECK(took >= 30ms);
}

TEST_CASE("latch: fibers wait for counts from fibers of the same worker") {
  weft_test::one_worker();
  auto done = weft::spawn([] {
    std::latch latch(3);
    std::atomic<int> counted{0}, saw_all{0};
    std::vector<weft::Unfuture<void>> fibers;
    for (int i = 0; i < 3; ++i) {
      fibers.push_back(weft::spawn([&] {
        latch.wait();
        if (counted.load() == 3) ++saw_all;
      }));
    }
    for (int i = 0; i < 3; ++i) {
      fibers.push_back(weft::spawn([&, i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * (i + 1)));
        ++counted;
        latch.count_down();
      }));
    }
    for (auto& f : fibers) f.get();
    return saw_all.load();
  });
  CHECK(weft_test::finish_or_die(done, "latch::wait blocked the worker of the fibers counting down") == 3);
}
