// weft::Latch (std::latch's calls): arrive_and_wait releases everyone together once the
// last participant arrives, fibers on both workers and plain threads alike; try_wait
// tells without waiting; counting below zero is refused and changes nothing.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <stdexcept>

TEST_CASE("arrive_and_wait lets nobody through before the last participant arrives") {
  weft_test::require_two_workers();
  constexpr int kFibers = 6, kThreads = 3;
  weft::Latch latch(kFibers + kThreads);
  std::atomic<int> arrived{0};
  std::atomic<int> early{0};
  weft_test::on_fibers_and_threads(kFibers, kThreads, [&](int who) {
    weft::sleep_for(std::chrono::milliseconds(who * 3));  // arrive one by one
    ++arrived;
    latch.arrive_and_wait();
    if (arrived.load() != kFibers + kThreads) ++early;  // a latch that opened too soon
  });
  CHECK(early.load() == 0);
  CHECK(latch.try_wait());
  latch.wait();  // open: returns at once
}

TEST_CASE("try_wait, count_down(n) and bad counts") {
  CHECK_THROWS_AS(weft::Latch(-1), std::invalid_argument);
  weft::Latch latch(3);
  CHECK_FALSE(latch.try_wait());
  CHECK_THROWS_AS(latch.count_down(4), std::logic_error);  // more than is left
  CHECK_THROWS_AS(latch.count_down(-1), std::logic_error);
  CHECK_FALSE(latch.try_wait());  // the refused counts changed nothing
  auto waiter = weft::spawn([&] { latch.wait(); });
  REQUIRE(weft_test::wait_parked_on(&latch, 1, weft::WaitKind::event));
  latch.count_down(2);
  CHECK_FALSE(latch.try_wait());
  latch.count_down();
  waiter.get();
  CHECK(latch.try_wait());
}
