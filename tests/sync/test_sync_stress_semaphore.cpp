// Seeded stress of weft::Semaphore: each round a random permit count and random numbers
// of fibers (over both workers) and plain threads acquiring every way (acquire,
// try_acquire, timed) and releasing one or several at a time. Invariants: never more
// holders than permits; every permit back at the end (exactly `permits` can be taken);
// everyone finishes.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>

TEST_CASE("stress: weft::Semaphore from fibers and threads, every acquire form") {
  weft_test::require_two_workers();
  weft_test::stress_loop("semaphore", [](std::mt19937_64& rng, int) {
    const int permits = weft_test::pick(rng, 1, 4);
    weft::Semaphore sem(permits);
    std::atomic<int> holders{0}, most{0};
    const int fibers = weft_test::pick(rng, 1, 10), threads = weft_test::pick(rng, 0, 3);
    const int ops = weft_test::pick(rng, 20, 200);
    const std::uint64_t round_seed = rng();
    weft_test::on_fibers_and_threads(fibers, threads, [&](int who) {
      std::mt19937_64 mine(round_seed + static_cast<std::uint64_t>(who));
      for (int i = 0; i < ops; ++i) {
        // Sometimes two at once (never more than exist), released together.
        const int want = permits >= 2 && weft_test::pick(mine, 0, 4) == 0 ? 2 : 1;
        int got = 0;
        for (; got < want; ++got) {
          bool ok = true;
          // The second only without blocking: two holders of one each, both waiting for
          // a second, would deadlock any semaphore.
          switch (weft_test::pick(mine, got == 0 ? 0 : 1, 2)) {
            case 0: sem.acquire(); break;
            case 1: ok = sem.try_acquire(); break;
            default: ok = sem.try_acquire_for(std::chrono::microseconds(weft_test::pick(mine, 0, 1000))); break;
          }
          if (!ok) break;
          const int now = ++holders;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
        }
        if (weft_test::pick(mine, 0, 3) == 0) weft::this_fiber::yield();
        holders -= got;
        if (got > 0) sem.release(got);
      }
    });
    REQUIRE(most.load() <= permits);
    int back = 0;
    while (sem.try_acquire()) ++back;
    REQUIRE(back == permits);
  });
}
