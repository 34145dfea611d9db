// Timed waits (wait_until) that expire at the very moment the result is published, many
// times over, from fibers on every worker and from plain threads. Each wait must answer
// consistently with the Unfuture:
//  - true only when the value is there (ready() and get() agree right after);
//  - false only once its deadline has passed (never a spurious early false);
//  - true whenever the value was there before the wait began (a published value is never
//    missed);
// and every waiter returns (a lost wake-up hangs the test into its timeout).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Answer {
  bool ready_before = false;  // ready() before the wait began
  bool said_ready = false;    // what wait_until returned
  bool deadline_passed = false;  // the clock had reached the deadline when it returned
  bool ready_after = false;   // ready() right after it returned
  int value = 0;              // get() right after, when it said ready
};

Answer timed_wait(const weft::Unfuture<int>& u, Clock::time_point at) {
  Answer a;
  a.ready_before = u.ready();
  a.said_ready = u.wait_until(at);
  a.deadline_passed = Clock::now() >= at;
  a.ready_after = u.ready();
  if (a.said_ready) a.value = u.get();
  return a;
}

}  // namespace

TEST_CASE("timed waits expiring while the result is published answer consistently") {
  const auto stop_at = Clock::now() + std::chrono::seconds(5 * WEFT_TEST_SLACK);
  long rounds = 0, woken = 0, timed_out = 0, already_ready = 0;
  long true_without_value = 0, false_before_deadline = 0, missed_published = 0;
  while (Clock::now() < stop_at) {
    weft::Promise<int> p;
    auto u = p.get_unfuture();
    // The deadline every waiter uses, and the moment the value is set: the same.
    const auto at = Clock::now() + 300us;
    std::vector<weft::Unfuture<Answer>> fibers;
    for (int i = 0; i < 64; ++i) fibers.push_back(weft::spawn([u, at] { return timed_wait(u, at); }));
    std::vector<Answer> from_threads(2);
    std::vector<std::thread> threads;
    for (auto& slot : from_threads) threads.emplace_back([&slot, u, at] { slot = timed_wait(u, at); });
    while (Clock::now() < at) {
    }
    p.set_value(7);
    for (auto& t : threads) t.join();
    std::vector<Answer> answers = std::move(from_threads);
    for (auto& f : fibers) answers.push_back(f.get());
    for (const Answer& a : answers) {
      if (a.said_ready) {
        ++woken;
        if (!a.ready_after || a.value != 7) ++true_without_value;
      } else {
        ++timed_out;
        if (!a.deadline_passed) ++false_before_deadline;
      }
      if (a.ready_before) {
        ++already_ready;
        if (!a.said_ready) ++missed_published;
      }
    }
    ++rounds;
  }
  MESSAGE(rounds << " rounds: " << woken << " waits saw the value, " << timed_out << " timed out first, "
                 << already_ready << " found it before waiting");
  CHECK(true_without_value == 0);
  CHECK(false_before_deadline == 0);
  CHECK(missed_published == 0);
}
