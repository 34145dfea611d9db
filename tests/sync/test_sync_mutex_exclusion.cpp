// weft::Mutex excludes: fibers on both workers and plain threads, mixed, never hold it at
// once, through lock/unlock, std::lock_guard, std::unique_lock, std::scoped_lock and the
// try forms, and every increment made under it survives.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <atomic>
#include <mutex>

TEST_CASE("fibers on two workers and plain threads never hold a weft::Mutex at once") {
  weft_test::require_two_workers();
  weft::Mutex m;
  std::atomic<int> inside{0};
  int max_inside = 0;    // guarded by m
  long long total = 0;   // guarded by m; a plain int so lost updates show
  constexpr int kEach = 2000;

  auto critical = [&] {
    max_inside = std::max(max_inside, inside.fetch_add(1) + 1);
    const long long seen = total;
    if ((seen & 63) == 0) weft::this_fiber::yield();  // from a fiber: others run meanwhile
    total = seen + 1;
    inside.fetch_sub(1);
  };
  weft_test::on_fibers_and_threads(8, 4, [&](int who) {
    for (int i = 0; i < kEach; ++i) {
      switch ((who + i) % 5) {
        case 0: {
          std::lock_guard g(m);
          critical();
          break;
        }
        case 1: {
          std::unique_lock lk(m);
          critical();
          break;
        }
        case 2: {
          std::scoped_lock lk(m);
          critical();
          break;
        }
        case 3:
          while (!m.try_lock()) weft::this_fiber::yield();
          critical();
          m.unlock();
          break;
        default:
          REQUIRE(m.try_lock_for(std::chrono::seconds(30)));
          critical();
          m.unlock();
          break;
      }
    }
  });
  // A mutex that let two in, or lost a hand-off's memory ordering, shows here.
  CHECK(max_inside == 1);
  CHECK(total == 12LL * kEach);
  // Left unlocked: anyone can take it again.
  CHECK(m.try_lock());
  m.unlock();
}

TEST_CASE("std::scoped_lock takes two weft::Mutexes in opposite orders without deadlock") {
  weft::Mutex a, b;
  long long n = 0;  // guarded by both
  weft_test::on_fibers_and_threads(4, 2, [&](int who) {
    for (int i = 0; i < 1000; ++i) {
      if (who % 2 == 0) {
        std::scoped_lock lk(a, b);
        ++n;
      } else {
        std::scoped_lock lk(b, a);  // std::lock's try_lock back-off needs try_lock to fail cleanly
        ++n;
      }
    }
  });
  CHECK(n == 6000);
}
