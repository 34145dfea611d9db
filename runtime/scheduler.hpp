// weft's Boost.Fiber scheduling algorithm: one per worker thread.
//
// Boost.Fiber asks an algorithm for five things (awakened, pick_next, has_ready_fibers,
// suspend_until, notify) and leaves the waiting to it. weft's waits on the worker's
// reactor in suspend_until, with the earliest timer deadline Boost passes in, and is
// woken through the reactor's eventfd in notify; that one kernel wait covers timers,
// I/O and wake-ups from other threads.
//
// Two kinds of ready fiber. Fibers that have run at least once stay on their worker
// forever (third-party code keeps errno and thread-locals across calls): they wait in a
// private FIFO, and so do fibers posted from outside the runtime (already spread round
// robin, and run in the order they were submitted). Fibers spawned by fibers have never
// run and are still free to move: with several workers they wait in the worker's "fresh"
// queue, which idle workers steal from (oldest first); with one worker, in a private
// list. pick_next alternates between the two kinds, so a stream of new fibers cannot
// starve resumed ones, nor the reverse.
//
// Among new fibers the owner takes the newest first, and every kOldestEvery-th time the
// oldest, so none starves. Newest first keeps a tree of spawns depth-first: a parent that
// spawns and joins sees its children finish before their cousins start, so a million-leaf
// tree (skynet) needs a few thousand live stacks rather than a million.
//
// Boost's dispatcher context (which frees finished fibers' stacks, moves expired sleepers
// and wake-ups from other threads to the ready queue, and sleeps in suspend_until) would
// otherwise sit in the FIFO and run once per pass over it, costing two switches per pass.
// It is kept aside and run every kDispatchEvery picks, or as soon as nothing else is
// ready: timers and remote wake-ups wait at most that many fiber runs.
//
// I/O readiness is collected when the worker sleeps (suspend_until), and, for a worker that
// never runs out of ready fibers, by a non-blocking reactor poll on the dispatcher's first
// turn after kPollEvery picks (its turn comes every kDispatchEvery picks at most).
#pragma once

#include "thread_context.hpp"

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
  static constexpr std::uint32_t kDispatchEvery = 16;
  static constexpr std::uint32_t kOldestEvery = 4;
  // A worker whose fibers keep it busy checks its armed fds this often without sleeping
  // (a non-blocking epoll_wait costs about 1 µs, so not on every switch).
  static constexpr std::uint32_t kPollEvery = 64;

  boost::fibers::context* choose_next() noexcept;  // pick_next, less the TSan annotation
  bool has_new() const noexcept;
  boost::fibers::context* take_new() noexcept;

  Worker& worker_;
  boost::fibers::scheduler::ready_queue_type ready_;      // resumed fibers, FIFO
  boost::fibers::scheduler::ready_queue_type new_local_;  // new fibers, one-worker runtime
  boost::fibers::context* dispatcher_ = nullptr;  // set while the dispatcher waits its turn
  std::uint32_t picks_ = 0;
  std::uint32_t new_picks_ = 0;
  std::uint32_t picks_since_dispatch_ = 0;
  std::uint32_t picks_since_poll_ = 0;
};

// Set while this thread creates a fiber spawned by a fiber, so awakened() files it as a
// new one (see above).
inline void mark_next_fiber_new(bool is_new) noexcept { thread_context().next_fiber_is_new = is_new; }

}  // namespace weft::rt
