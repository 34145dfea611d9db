// What the client tests of issue 15 measure around a third-party call (hiredis, libpq,
// libcurl) that a weft::Timeout or a cancel stops, on the test's one worker: what the call
// cost (a client that retried the failed call in a loop would use a whole core), and
// whether a neighbour fiber on the same worker kept ticking meanwhile (a worker blocked or
// spinning in the stopped call shows as one long gap).
//
// The neighbours' bound allows one ~100 ms oversleep of the worker's epoll_pwait2, a quirk
// of the VMs these tests run on (support/epoll_oversleep.hpp); what it is there to catch
// shows as a gap of seconds.
#pragma once

#include "support/cpu_time.hpp"
#include "support/epoll_oversleep.hpp"
#include "support/run_delay.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#ifndef WEFT_TEST_SLACK
#define WEFT_TEST_SLACK 1
#endif

namespace weft_test {

// The Timeout each stopped call runs under.
inline constexpr std::chrono::milliseconds kStopAfter{200};
// A share of one CPU that a call waiting in the kernel stays far below and a spin reaches.
inline constexpr double kSpinShare = 0.5;

// Wall and CPU time of one call.
struct CallCost {
  Clock::duration wall{};
  std::chrono::microseconds cpu{};
  double cpu_share = 0;

  void take(const CostMeter& m) {
    wall = m.wall();
    cpu = m.cpu();
    cpu_share = m.cpu_share();
  }
  std::string describe() const {
    return "after " + std::to_string(ms(wall)) + " ms, CPU " + std::to_string(cpu.count() / 1000) + " ms (" +
           std::to_string(int(cpu_share * 100)) + "%)";
  }
};

// A 2 ms ticker on the calling test's one worker, the machine's stalls and the worker's
// wait for a CPU, from construction to finish().
class Neighbours {
 public:
  explicit Neighbours(StallWatch& watch)
      : watch_(watch), worker_((watch.reset(), weft::spawn(this_thread_tid).get())),
        delay_before_(run_delay(worker_)), ticker_(std::chrono::milliseconds(2)) {}

  void finish() {
    ticker_.finish();
    stall_ = watch_.worst();
    worker_delay_ = run_delay(worker_) - delay_before_;
  }
  Clock::duration stall() const { return stall_; }
  std::string describe() const {
    return "ticker worst gap " + std::to_string(ms(ticker_.worst_gap())) + " ms over " +
           std::to_string(ticker_.ticks()) + " ticks (machine stall " + std::to_string(ms(stall_)) + " ms)";
  }
  // They ran during the call, and never waited 50 ms between ticks (beyond the machine's
  // stall and the VM's epoll oversleep).
  void check_ticked_on() const {
    CHECK(ticker_.ticks() >= 10);
    CHECK_MESSAGE(ticker_.worst_gap() < std::chrono::milliseconds(50) * WEFT_TEST_SLACK + stall_ + kEpollOversleep,
                  "the neighbour fiber waited " << ms(ticker_.worst_gap()) << " ms between ticks (the worker waited "
                                                << ms(worker_delay_) << " ms in all for a CPU; machine stall "
                                                << ms(stall_) << " ms)");
  }

 private:
  StallWatch& watch_;
  pid_t worker_;
  std::chrono::nanoseconds delay_before_;
  Ticker ticker_;
  Clock::duration stall_{};
  std::chrono::nanoseconds worker_delay_{};
};

// A call under Timeout(kStopAfter) ended at the deadline, not before and not much after
// (far from the several seconds it would have waited), without spinning meanwhile.
inline void check_stopped_at_deadline(const CallCost& cost, Clock::duration stall, const char* call) {
  CHECK(cost.wall >= kStopAfter - std::chrono::milliseconds(5));
  CHECK_MESSAGE(cost.wall < std::chrono::milliseconds(150) * WEFT_TEST_SLACK + kStopAfter + stall,
                call << " took " << ms(cost.wall) << " ms");
  CHECK(cost.wall < std::chrono::seconds(1) * WEFT_TEST_SLACK + stall);
  CHECK_MESSAGE(cost.cpu_share < kSpinShare,
                "the process used " << int(cost.cpu_share * 100) << "% of a CPU while " << call << " waited");
}

}  // namespace weft_test
