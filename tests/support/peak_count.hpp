// How many at most were inside a stretch of code at once (requests waiting in a server,
// clients between their first request and last reply), from any threads and fibers. A
// stretch that the runtime serialised, a worker blocked in one fiber's wait, shows as 1.
#pragma once

#include <atomic>

namespace weft_test {

class PeakCount {
 public:
  // Counts the caller in until it goes away.
  class Inside {
   public:
    explicit Inside(PeakCount& c) : c_(c) {
      const int now = ++c_.inside_;
      for (int seen = c_.peak_.load(); now > seen && !c_.peak_.compare_exchange_weak(seen, now);) {
      }
    }
    ~Inside() { --c_.inside_; }
    Inside(const Inside&) = delete;
    Inside& operator=(const Inside&) = delete;

   private:
    PeakCount& c_;
  };

  int peak() const { return peak_.load(); }
  void reset() { peak_ = 0; }

 private:
  std::atomic<int> inside_{0}, peak_{0};
};

}  // namespace weft_test
