// A fiber that ticks (a hooked std::this_thread::sleep_for of `tick`) until finish(), and
// notes the longest gap between its ticks: spawned on a worker whose other fibers wait on
// something, it shows whether that worker kept running fibers meanwhile (a worker blocked
// in a wait the shims missed shows as one long gap). ticks() may be read while it runs, to
// count the ticks of a span (a blocked worker makes none); worst_gap() only after finish().
#pragma once

#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace weft_test {

class Ticker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Ticker(Clock::duration tick) : tick_(tick), fiber_(weft::spawn([this] { run(); })) {}
  ~Ticker() {
    if (fiber_.valid()) finish();
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Stops the ticker and waits for its fiber; then worst_gap() and ticks() are final (the
  // tick under way when finish() is called still counts).
  void finish() {
    stop_ = true;
    fiber_.get();
    fiber_ = {};
  }
  Clock::duration worst_gap() const { return worst_gap_; }
  int ticks() const { return ticks_.load(); }

 private:
  void run() {
    auto last = Clock::now();
    while (!stop_.load()) {
      std::this_thread::sleep_for(tick_);
      const auto now = Clock::now();
      worst_gap_ = std::max(worst_gap_, now - last);
      last = now;
      ++ticks_;
    }
  }

  Clock::duration tick_;
  std::atomic<bool> stop_{false};
  Clock::duration worst_gap_{};
  std::atomic<int> ticks_{0};
  weft::Unfuture<void> fiber_;
};

}  // namespace weft_test
