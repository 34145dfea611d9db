// Seeded stress of weft::Mutex: each round a random number of fibers (over both workers)
// and plain threads lock it every way there is (lock, try_lock, try_lock_for with short
// and zero timeouts) and hold it across nothing, a yield or a park. Invariants: never two
// inside; every successful acquisition counted once under the lock; everyone finishes;
// the mutex is free at the end of each round (and destroyed with nobody waiting).
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>

TEST_CASE("stress: weft::Mutex from fibers and threads, every lock form, random hold times") {
  weft_test::require_two_workers();
  weft_test::stress_loop("mutex", [](std::mt19937_64& rng, int) {
    weft::Mutex m;
    std::atomic<int> inside{0}, most{0};
    std::atomic<long long> acquired{0};
    long long counted = 0;  // guarded by m
    const int fibers = weft_test::pick(rng, 1, 12), threads = weft_test::pick(rng, 0, 3);
    const int ops = weft_test::pick(rng, 20, 200);
    const std::uint64_t round_seed = rng();
    weft_test::on_fibers_and_threads(fibers, threads, [&](int who) {
      std::mt19937_64 mine(round_seed + static_cast<std::uint64_t>(who));
      for (int i = 0; i < ops; ++i) {
        bool got = true;
        switch (weft_test::pick(mine, 0, 3)) {
          case 0: m.lock(); break;
          case 1: got = m.try_lock(); break;
          case 2: got = m.try_lock_for(std::chrono::microseconds(weft_test::pick(mine, 0, 2000))); break;
          default: got = m.try_lock_for(std::chrono::seconds(0)); break;
        }
        if (!got) continue;
        const int now = ++inside;
        if (now > most.load()) most.store(now);
        switch (weft_test::pick(mine, 0, 5)) {
          case 0: weft::this_fiber::yield(); break;
          case 1: weft::sleep_for(std::chrono::microseconds(weft_test::pick(mine, 1, 300))); break;
          default: break;
        }
        ++counted;
        ++acquired;
        --inside;
        m.unlock();
      }
    });
    REQUIRE(most.load() == 1);           // mutual exclusion
    REQUIRE(counted == acquired.load());  // no update lost under the lock
    REQUIRE(m.try_lock());               // free at the end: no owner left behind by a hand-off
    m.unlock();
  });
}
