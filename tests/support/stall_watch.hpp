// A reference for timing checks on a shared machine: while a StallWatch lives, a plain
// thread sleeps 1 ms at a time and records how late its worst wake-up was. A stall of the
// machine (other processes, the hypervisor) delays that thread as much as the code under
// test, so a timing bound can allow `worst()` on top of its own tolerance:
//
//   weft_test::StallWatch watch;  // or one for the whole file, reset() per test case
//   ... measure `took` ...
//   CHECK(took < expected + kLate + watch.worst());
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace weft_test {

class StallWatch {
 public:
  using Clock = std::chrono::steady_clock;

  StallWatch() : thread_([this] { run(); }) {}
  ~StallWatch() { stop(); }
  StallWatch(const StallWatch&) = delete;
  StallWatch& operator=(const StallWatch&) = delete;

  // The worst lateness since construction or reset(), including any stall that ended
  // just before the call (it waits for the watch to see the present first).
  Clock::duration worst() const {
    const auto now = Clock::now();
    while (Clock::time_point(Clock::duration(seen_up_to_.load())) < now) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return Clock::duration(worst_.load());
  }
  void reset() {
    worst();  // let a stall in progress be counted before it is forgotten
    worst_.store(0);
  }

 private:
  void run() {
    while (!stop_.load()) {
      const auto deadline = Clock::now() + std::chrono::milliseconds(1);
      std::this_thread::sleep_until(deadline);
      const auto now = Clock::now();
      const auto late = (now - deadline).count();
      if (late > worst_.load()) worst_.store(late);
      seen_up_to_.store(now.time_since_epoch().count());
    }
  }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<bool> stop_{false};
  std::atomic<Clock::rep> worst_{0};
  std::atomic<Clock::rep> seen_up_to_{Clock::now().time_since_epoch().count()};
  std::thread thread_;
};

}  // namespace weft_test
