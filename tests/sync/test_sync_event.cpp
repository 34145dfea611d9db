// weft::Event (gevent's): set() wakes every waiter, fibers on both workers and plain
// threads alike; a set event lets waiters through at once; clear() makes later waiters
// wait; a waiter woken by set() returns true even if clear() came before it ran; wait_for
// times out on time.
#include "support/timing.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

TEST_CASE("set wakes every waiter, fibers and threads; later waits pass at once until clear") {
  weft_test::require_two_workers();
  weft::Event e;
  CHECK_FALSE(e.is_set());
  std::atomic<int> through{0};
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);  // most waiters are parked by now (none need be)
    e.set();
  });
  weft_test::on_fibers_and_threads(6, 3, [&](int) {
    REQUIRE(e.wait_for(20s));  // a waiter missed by set() times out here
    ++through;
  });
  setter.join();
  CHECK(through.load() == 9);
  CHECK(e.is_set());
  CHECK(weft::spawn([&] { return e.wait_for(0ms); }).get());  // set: no wait at all
  e.clear();
  CHECK_FALSE(e.is_set());
  CHECK_FALSE(weft::spawn([&] { return e.wait_for(20ms); }).get());  // cleared: waits again
}

TEST_CASE("waiters woken by set() return true though clear() follows at once") {
  weft::Event e;
  std::vector<weft::Unfuture<bool>> waiters;
  for (int i = 0; i < 4; ++i) waiters.push_back(weft::spawn([&] { return e.wait_for(20s); }));
  REQUIRE(weft_test::wait_parked_on(&e, 4, weft::WaitKind::event));
  e.set();
  e.clear();
  // A waiter that looked at the flag again after waking would park again and, after
  // 20 s, return false.
  for (auto& w : waiters) CHECK(w.get());
}

TEST_CASE("wait_for on an event nobody sets returns false on time, from fibers and threads") {
  weft::Event e;
  weft_test::on_fibers_and_threads(2, 2, [&](int) {
    const auto reference = took([] { weft::sleep_for(60ms); });
    bool got = true;
    const auto elapsed = took([&] { got = e.wait_for(60ms); });
    CHECK_FALSE(got);
    INFO("wait_for(60ms) took " << ms(elapsed) << " ms, sleep_for(60ms) " << ms(reference) << " ms");
    CHECK(elapsed >= 60ms);
    CHECK(elapsed <= reference + std::chrono::milliseconds(50 * WEFT_TEST_SLACK));
  });
  CHECK_FALSE(e.wait_until(std::chrono::system_clock::now() - 1h));
}
