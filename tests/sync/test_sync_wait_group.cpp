// weft::WaitGroup (Go's): wait() returns once every add() is matched by a done(), from
// fibers on both workers and plain threads; wait_for times out while work is left; a
// counter taken below zero throws std::logic_error, stays as it was, and the group goes on
// working.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <limits>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

TEST_CASE("wait returns after the last done(), for waiters on fibers and threads") {
  weft_test::require_two_workers();
  weft::WaitGroup wg;
  std::atomic<int> finished{0};
  constexpr int kWork = 40;
  wg.add(kWork);
  std::vector<weft::Unfuture<void>> work;
  for (int i = 0; i < kWork; ++i) {
    work.push_back(weft::spawn([&, i] {
      weft::sleep_for(std::chrono::milliseconds(i % 7));
      ++finished;
      wg.done();
    }));
  }
  std::vector<std::thread> helpers;  // more work, done on plain threads
  wg.add(4);
  for (int i = 0; i < 4; ++i) {
    helpers.emplace_back([&] {
      std::this_thread::sleep_for(10ms);
      ++finished;
      wg.done();
    });
  }
  // Waiters of both kinds: each must see every piece finished (one that returned early
  // would see fewer).
  weft_test::on_fibers_and_threads(3, 2, [&](int) {
    REQUIRE(wg.wait_for(20s));
    CHECK(finished.load() == kWork + 4);
  });
  for (auto& h : helpers) h.join();
  for (auto& w : work) w.get();
  CHECK(wg.count() == 0);
  wg.wait();  // zero: returns at once
}

TEST_CASE("wait_for with work left returns false; add after zero makes waiters wait again") {
  weft::WaitGroup wg;
  CHECK(wg.wait_for(0ms));  // nothing added: done already
  wg.add();
  CHECK_FALSE(weft::spawn([&] { return wg.wait_for(30ms); }).get());
  CHECK_FALSE(wg.wait_for(10ms));
  wg.done();
  CHECK(wg.wait_for(0ms));
}

TEST_CASE("a counter taken below zero throws logic_error, changes nothing, and the group still works") {
  weft::WaitGroup wg;
  try {
    wg.done();
    FAIL("done() on a zero counter did not throw");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("below zero") != std::string::npos);
  }
  CHECK(wg.count() == 0);
  wg.add(2);
  CHECK_THROWS_AS(wg.add(-3), std::logic_error);
  CHECK(wg.count() == 2);  // the refused add left it as it was
  auto waiter = weft::spawn([&] { return wg.wait_for(20s); });
  wg.done();
  wg.done();
  CHECK(waiter.get());
  wg.add(std::numeric_limits<std::int64_t>::max());
  CHECK_THROWS_AS(wg.add(1), std::logic_error);  // would overflow
  CHECK(wg.count() == std::numeric_limits<std::int64_t>::max());
  wg.add(-std::numeric_limits<std::int64_t>::max());
}
