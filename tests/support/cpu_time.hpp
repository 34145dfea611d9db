// How much CPU a stretch of code cost the whole process, beside how long it took: a call
// that waits in the kernel (or a parked fiber) costs little CPU for its wall time; one that
// spins, retrying a failed call, costs about its wall time on one core.
#pragma once

#include <sys/resource.h>
#include <sys/time.h>

#include <chrono>

namespace weft_test {

// User plus system time of every thread of this process so far.
inline std::chrono::microseconds process_cpu_time() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return us(u.ru_utime) + us(u.ru_stime);
}

// Starts measuring when constructed; stop() freezes wall() and cpu().
class CostMeter {
 public:
  using Clock = std::chrono::steady_clock;

  CostMeter() : wall_start_(Clock::now()), cpu_start_(process_cpu_time()) {}

  void stop() {
    wall_ = Clock::now() - wall_start_;
    cpu_ = process_cpu_time() - cpu_start_;
  }
  Clock::duration wall() const { return wall_; }
  std::chrono::microseconds cpu() const { return cpu_; }
  // CPU time per wall time: about 1 for a thread that spins, near 0 for one that waits.
  double cpu_share() const {
    const double wall = std::chrono::duration<double>(wall_).count();
    return wall > 0 ? std::chrono::duration<double>(cpu_).count() / wall : 0.0;
  }

 private:
  Clock::time_point wall_start_;
  std::chrono::microseconds cpu_start_;
  Clock::duration wall_{};
  std::chrono::microseconds cpu_{};
};

}  // namespace weft_test
