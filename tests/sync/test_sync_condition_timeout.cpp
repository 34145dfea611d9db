// Timed waits on weft::ConditionVariable: wait_for/wait_until return cv_status::timeout at
// the deadline (measured against a sleep of the same length) holding the mutex again,
// no_timeout when notified in time, and the predicate forms return the predicate's value.
// A zero timeout still releases the mutex for a moment, as std's does.
#include "support/timing.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <mutex>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

namespace {

void times_out_holding_the_mutex(weft::Mutex& m, weft::ConditionVariable& cv) {
  const auto reference = took([] { weft::sleep_for(80ms); });
  std::unique_lock lk(m);
  std::cv_status status = std::cv_status::no_timeout;
  const auto elapsed = took([&] { status = cv.wait_for(lk, 80ms); });
  CHECK(status == std::cv_status::timeout);
  CHECK(lk.owns_lock());
  INFO("wait_for(80ms) took " << ms(elapsed) << " ms, sleep_for(80ms) " << ms(reference) << " ms");
  CHECK(elapsed >= 80ms);
  CHECK(elapsed <= reference + std::chrono::milliseconds(50 * WEFT_TEST_SLACK));
  bool pred = true;
  const auto until = took([&] { pred = cv.wait_until(lk, std::chrono::system_clock::now() + 30ms, [] { return false; }); });
  CHECK_FALSE(pred);
  CHECK(until >= 30ms);
}

}  // namespace

TEST_CASE("wait_for with nobody notifying times out on time, from fibers and threads, holding the mutex") {
  weft_test::require_two_workers();
  weft::Mutex m;
  weft::ConditionVariable cv;
  weft_test::on_fibers_and_threads(2, 2, [&](int) { times_out_holding_the_mutex(m, cv); });
}

TEST_CASE("a notify before the deadline ends wait_for with no_timeout") {
  weft::Mutex m;
  weft::ConditionVariable cv;
  bool ready = false;  // guarded by m
  auto waiter = weft::spawn([&] {
    std::unique_lock lk(m);
    return cv.wait_for(lk, 30s, [&] { return ready; });
  });
  REQUIRE(weft_test::wait_parked_on(&cv, 1, weft::WaitKind::condition));
  const auto elapsed = took([&] {
    {
      std::lock_guard g(m);
      ready = true;
    }
    cv.notify_one();
    CHECK(waiter.get());
  });
  CHECK(elapsed < 5s);  // not the 30 s timeout
}

TEST_CASE("a zero timeout releases the mutex and takes it back, returning timeout at once") {
  weft::Mutex m;
  weft::ConditionVariable cv;
  weft::run([&] {
    std::unique_lock lk(m);
    std::cv_status status = std::cv_status::no_timeout;
    const auto elapsed = took([&] { status = cv.wait_for(lk, 0ms); });
    CHECK(status == std::cv_status::timeout);
    CHECK(elapsed < std::chrono::milliseconds(20 * WEFT_TEST_SLACK));
    CHECK(lk.owns_lock());
    CHECK(cv.wait_for(lk, -1h) == std::cv_status::timeout);
    CHECK_FALSE(cv.wait_for(lk, std::chrono::nanoseconds::min(), [] { return false; }));
  });
}
