// The std::mutex deadlock shape, with weft::Mutex: a fiber holds the lock across a hooked
// sleep while another fiber on the same worker (the only one) wants it. With std::mutex
// the second fiber blocks the worker's thread, the sleeper never runs again, and the
// process hangs; with weft::Mutex the second fiber parks, the worker keeps running fibers,
// and both finish.
#include "support/one_worker.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <unistd.h>

#include <atomic>
#include <vector>

TEST_CASE("a fiber waiting for a weft::Mutex held across usleep/sleep_for parks, and its worker runs on") {
  weft_test::one_worker();
  weft::Mutex m;
  std::vector<int> order;  // guarded by m
  std::atomic<int> ticks{0};
  std::atomic<bool> holder_done{false};

  weft::run([&] {
    auto holder = weft::spawn([&] {
      std::lock_guard g(m);
      order.push_back(1);
      ::usleep(50'000);  // hooked: parks this fiber, the worker runs the others
      weft::sleep_for(std::chrono::milliseconds(20));
      order.push_back(2);
      holder_done = true;
    });
    weft::this_fiber::yield();  // the holder takes the lock first
    auto wanter = weft::spawn([&] {
      std::lock_guard g(m);
      order.push_back(3);
    });
    // Another fiber on the same worker: it runs while the wanter waits for the mutex.
    auto ticker = weft::spawn([&] {
      while (!holder_done.load()) {
        ++ticks;
        weft::sleep_for(std::chrono::milliseconds(2));
      }
    });
    CHECK(weft_test::wait_parked_on(&m, 1, weft::WaitKind::mutex));  // the wanter, parked on m
    holder.get();
    wanter.get();
    ticker.get();
  });
  CHECK(order == std::vector<int>{1, 2, 3});
  // A wanter that blocked the thread (std::mutex) would also stop the ticker, and the
  // process would hang before this line.
  CHECK(ticks.load() >= 5);
}
