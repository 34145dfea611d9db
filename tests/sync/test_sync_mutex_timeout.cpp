// weft::Mutex::try_lock_for / try_lock_until: a held mutex makes them give up at the
// deadline (measured against a sleep of the same length in the same place), a mutex freed
// in time is taken, a zero or negative timeout is a poll, and a timeout too long for the
// clock waits as long as it takes.
#include "support/timing.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <limits>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

namespace {

// In a fiber or on a thread: how late try_lock_for(d) on a held mutex gives up, beyond a
// sleep_for(d) measured just before.
void gives_up_on_time(weft::Mutex& held) {
  const auto reference = took([] { weft::sleep_for(100ms); });
  bool got = true;
  const auto elapsed = took([&] { got = held.try_lock_for(100ms); });
  CHECK_FALSE(got);
  INFO("try_lock_for(100ms) took " << ms(elapsed) << " ms, sleep_for(100ms) " << ms(reference) << " ms");
  CHECK(elapsed >= 100ms);                                        // never early
  CHECK(elapsed <= reference + std::chrono::milliseconds(50 * WEFT_TEST_SLACK));  // nor much late
}

}  // namespace

TEST_CASE("try_lock_for on a held mutex gives up at the deadline, from fibers and threads") {
  weft_test::require_two_workers();
  weft::Mutex m;
  m.lock();
  weft_test::on_fibers_and_threads(2, 2, [&](int) { gives_up_on_time(m); });
  // Those that gave up left no trace: the owner's unlock frees the mutex for anyone.
  m.unlock();
  CHECK(m.try_lock());
  m.unlock();
}

TEST_CASE("try_lock_until (system_clock) gets a mutex freed before the deadline") {
  weft::Mutex m;
  m.lock();
  auto waiter = weft::spawn([&] {
    const bool got = m.try_lock_until(std::chrono::system_clock::now() + 10s);
    if (got) m.unlock();
    return got;
  });
  REQUIRE(weft_test::wait_parked_on(&m, 1, weft::WaitKind::mutex));
  m.unlock();
  CHECK(waiter.get());
}

TEST_CASE("a zero or negative timeout polls: no wait, the answer try_lock would give") {
  weft::Mutex m;
  m.lock();
  for (auto d : {0ms, -5ms, std::chrono::milliseconds::min()}) {
    bool got = true;
    bool got_until = true;
    const auto elapsed = weft::spawn([&] {
                           return took([&] {
                             got = m.try_lock_for(d);
                             got_until = m.try_lock_until(std::chrono::steady_clock::time_point::min());
                           });
                         }).get();
    CHECK_FALSE(got);
    CHECK_FALSE(got_until);
    CHECK(elapsed < std::chrono::milliseconds(20 * WEFT_TEST_SLACK));
  }
  m.unlock();
  CHECK(weft::spawn([&] {
          const bool got = m.try_lock_for(0ms);  // free: a poll takes it
          if (got) m.unlock();
          return got;
        }).get());
}

TEST_CASE("a timeout too long for the clock waits until the mutex is free, no overflow") {
  weft::Mutex m;
  m.lock();
  std::atomic<int> got{0};
  auto a = weft::spawn([&] {
    if (m.try_lock_for(std::chrono::hours::max())) {
      ++got;
      m.unlock();
    }
  });
  auto b = weft::spawn([&] {
    if (m.try_lock_until(std::chrono::system_clock::time_point::max())) {
      ++got;
      m.unlock();
    }
  });
  REQUIRE(weft_test::wait_parked_on(&m, 2, weft::WaitKind::mutex));
  weft::sleep_for(30ms);  // an overflowed deadline (in the past) would have returned by now
  CHECK(got.load() == 0);
  m.unlock();
  a.get();
  b.get();
  CHECK(got.load() == 2);
}
