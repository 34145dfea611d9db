// Seeded stress of weft::WaitGroup and weft::Latch (one counter underneath): each round a
// fresh group, random numbers of workers and waiters on fibers (over both workers) and
// plain threads, workers finishing after random tiny delays. Invariants: no waiter returns
// before every worker has finished; every waiter returns (a lost wake-up hangs, and the
// seed names it); the object is destroyed right after, with nobody waiting.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>

TEST_CASE("stress: WaitGroup and Latch between workers and waiters on fibers and threads") {
  weft_test::require_two_workers();
  weft_test::stress_loop("countdown", [](std::mt19937_64& rng, int) {
    const int workers = weft_test::pick(rng, 1, 10), waiters = weft_test::pick(rng, 0, 6);
    const int threads = weft_test::pick(rng, 0, std::min(3, workers + waiters));
    const bool latch_kind = weft_test::pick(rng, 0, 1) == 1;
    const std::uint64_t round_seed = rng();
    weft::WaitGroup wg;
    weft::Latch latch(workers);
    wg.add(workers);
    std::atomic<int> finished{0}, early{0};
    weft_test::on_fibers_and_threads(workers + waiters - threads, threads, [&](int who) {
      std::mt19937_64 mine(round_seed + static_cast<std::uint64_t>(who));
      // Fibers come first in `who`, threads last: with threads < workers + waiters, both
      // kinds end up among the workers or the waiters as the counts fall.
      if (who < workers) {
        if (weft_test::pick(mine, 0, 1) == 1) weft::sleep_for(std::chrono::microseconds(weft_test::pick(mine, 0, 300)));
        ++finished;
        if (latch_kind) {
          latch.count_down();
        } else {
          wg.done();
        }
        return;
      }
      if (latch_kind) {
        latch.wait();
      } else {
        wg.wait();
      }
      if (finished.load() != workers) ++early;
    });
    REQUIRE(early.load() == 0);
    REQUIRE((latch_kind ? latch.try_wait() : wg.count() == 0));
    if (latch_kind) wg.add(-workers);  // unused this round: back to zero
    if (!latch_kind) latch.count_down(workers);
  });
}
