// Timed waits (wait_for / wait_until) that expire at the very moment the result is
// published, many times over: every waiter returns (true or false, each consistent with
// ready()), nothing crashes or hangs.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_CASE("timed waits expiring while the result is published") {
  const auto stop_at = Clock::now() + std::chrono::seconds(5 * WEFT_TEST_SLACK);
  long rounds = 0, woken = 0, timed_out = 0;
  while (Clock::now() < stop_at) {
    weft::Promise<int> p;
    auto u = p.get_unfuture();
    // The deadline every waiter uses, and the moment the value is set: the same.
    const auto at = Clock::now() + 300us;
    std::vector<weft::Unfuture<bool>> waiters;
    for (int i = 0; i < 64; ++i) waiters.push_back(weft::spawn([u, at] { return u.wait_until(at); }));
    while (Clock::now() < at) {
    }
    p.set_value(1);
    for (auto& w : waiters) (w.get() ? woken : timed_out) += 1;
    ++rounds;
  }
  MESSAGE(rounds << " rounds: " << woken << " waits saw the value, " << timed_out << " timed out first");
  CHECK(woken + timed_out == rounds * 64);
}
