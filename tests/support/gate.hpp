// A gate that spawn_blocking tasks block on until the test lets them through, one at a
// time or all at once, and a way to wait for a condition with a deadline. Pool threads are
// plain threads, so a std::condition_variable is right here; never call pass() or
// wait_arrived() from a fiber (it would block the whole worker).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace weft_test {

class Gate {
 public:
  // Records the caller's arrival as `id`, then blocks until it gets a permit (or the gate
  // is open).
  void pass(int id = -1) {
    std::unique_lock lk(lock_);
    arrivals_.push_back(id);
    changed_.notify_all();
    changed_.wait(lk, [this] { return open_ || permits_ > 0; });
    if (!open_) --permits_;
  }
  // Lets `n` more callers of pass() through.
  void release(int n = 1) {
    std::lock_guard lk(lock_);
    permits_ += n;
    changed_.notify_all();
  }
  // Lets every caller through, now and later.
  void open() {
    std::lock_guard lk(lock_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `n` callers in all have arrived at pass(); false if not within `timeout`.
  bool wait_arrived(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lk(lock_);
    return changed_.wait_for(lk, timeout, [&] { return arrivals_.size() >= n; });
  }
  // The ids passed to pass(), in order of arrival.
  std::vector<int> arrivals() const {
    std::lock_guard lk(lock_);
    return arrivals_;
  }

 private:
  mutable std::mutex lock_;
  std::condition_variable changed_;
  std::vector<int> arrivals_;  // guarded by lock_
  int permits_ = 0;            // guarded by lock_
  bool open_ = false;          // guarded by lock_
};

// Polls pred() every millisecond from a plain thread until it holds; false if it still
// does not after `timeout`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace weft_test
