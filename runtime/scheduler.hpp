// weft's Boost.Fiber scheduling algorithm: one per worker thread.
//
// Boost.Fiber asks an algorithm for five things (awakened, pick_next, has_ready_fibers,
// suspend_until, notify) and leaves the waiting to it. weft's waits on the worker's
// reactor in suspend_until, with the earliest timer deadline Boost passes in, and is
// woken through the reactor's eventfd in notify; that one kernel wait covers timers,
// I/O and wake-ups from other threads.
//
// Two queues. Fibers that have run at least once stay on their worker forever (third-
// party code keeps errno and thread-locals across calls), so they go to a private FIFO.
// Fibers that have never run are still free to move: they go to the worker's "fresh"
// queue, which idle workers steal from. pick_next alternates between the two so neither
// starves the other.
#pragma once

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

#include <chrono>
#include <cstdint>

namespace weft::rt {

class Worker;

class FiberAlgorithm final : public boost::fibers::algo::algorithm {
 public:
  explicit FiberAlgorithm(Worker& worker) noexcept : worker_(worker) {}

  void awakened(boost::fibers::context* ctx) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept override;
  void notify() noexcept override;

 private:
  Worker& worker_;
  boost::fibers::scheduler::ready_queue_type ready_;
  std::uint32_t picks_ = 0;
};

// Set while this thread creates a fiber that has not run yet, so awakened() files it in
// the stealable queue.
void mark_next_fiber_fresh(bool fresh) noexcept;

}  // namespace weft::rt
