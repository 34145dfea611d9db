// A worker: one OS thread running one Boost.Fiber scheduler (with FiberAlgorithm) over
// one reactor. The thread's main context drains an inbox of tasks posted by threads that
// are not workers and turns each into a fiber; fibers spawned on the worker itself skip
// the inbox.
#pragma once

#include "fiber_record.hpp"
#include "reactor_backend.hpp"
#include "spinlock.hpp"
#include "thread_context.hpp"
#include "worker_counters.hpp"

#include <weft/detail/state.hpp>

#include <boost/fiber/context.hpp>
#include <boost/fiber/detail/spinlock.hpp>
#include <boost/fiber/scheduler.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace weft::rt {

class Runtime;

class Worker {
 public:
  using TaskPtr = boost::intrusive_ptr<detail::StateBase>;

  Worker(Runtime& runtime, unsigned index);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread; returns once its scheduler is ready to take tasks.
  void start();

  // The worker whose thread is calling, or null on any other thread.
  static Worker* current() noexcept { return thread_context().worker; }
  // True on a worker thread, and also on a forked child's copy of one (where current() is
  // null): a thread whose thread_locals include a Boost.Fiber scheduler with fibers.
  static bool is_worker_thread() noexcept { return thread_context().worker_thread; }
  // On a worker thread: the fiber context running now (kept by FiberAlgorithm::pick_next,
  // so it costs no call into Boost). Null on other threads.
  static boost::fibers::context* running_context() noexcept { return thread_context().running; }
  static void set_running_context(boost::fibers::context* ctx) noexcept { thread_context().running = ctx; }
  // The running weft fiber on this thread, or null: on a plain thread, and in a worker's
  // main or dispatcher context.
  static boost::fibers::context* current_fiber() noexcept {
    boost::fibers::context* ctx = thread_context().running;
    return ctx != nullptr && ctx->is_context(boost::fibers::type::worker_context) ? ctx : nullptr;
  }
  // This worker thread's Boost.Fiber scheduler, or null on other threads.
  static boost::fibers::scheduler* current_scheduler() noexcept {
    Worker* w = thread_context().worker;
    return w != nullptr ? w->scheduler_ : nullptr;
  }
  // The record of the running weft fiber (fiber_record.hpp), or null where current_fiber()
  // is null: its context's properties once listed, its worker's unlisted record before.
  static FiberRecord* current_record() noexcept {
    ThreadContext& tc = thread_context();
    if (tc.running == nullptr) return nullptr;
    if (auto* listed = static_cast<FiberRecord*>(tc.running->get_properties())) return listed;
    return tc.worker != nullptr ? tc.worker->records_.unlisted() : nullptr;
  }
  // Called by the scheduler as the running context leaves the CPU: lists its record if
  // this is the first time (fiber_record.hpp).
  void leaving_cpu() noexcept {
    if (records_.unlisted() != nullptr) records_.list_unlisted();
  }
  // Called by the scheduler with the context it switches to: what the blocked-worker
  // monitor (monitor.hpp) watches from its own thread. One writer, so no atomic increment.
  void switching_to(boost::fibers::context* next) noexcept {
    switches_.store(switches_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    on_cpu_.store(next, std::memory_order_relaxed);
  }
  // For the monitor, from any thread: switches so far, the context on the CPU now (its
  // last switch's), and the thread's id for /proc/self/task.
  std::uint64_t switches() const noexcept { return switches_.load(std::memory_order_relaxed); }
  const boost::fibers::context* on_cpu() const noexcept { return on_cpu_.load(std::memory_order_relaxed); }
  pid_t tid() const noexcept { return tid_.load(std::memory_order_acquire); }

  // This worker's fibers, for walks from any thread.
  const RecordList& records() const noexcept { return records_; }
  // For weft::stats(), from any thread: the worker's own counters, and (taking the
  // inbox's lock) the tasks posted to it so far.
  const WorkerCounters& counters() const noexcept { return counters_; }
  std::uint64_t posted() noexcept;

  // Runs task as a new fiber here. Only from this worker's thread. `nested`: spawned by
  // a fiber (newest first, stealable); else posted from outside (FIFO, stays here).
  void spawn_local(TaskPtr task, bool nested = true);
  // Hands task to this worker from another thread.
  void post(TaskPtr task);
  // From another thread: the fiber running task on this worker was cancelled; wake it
  // here, between fibers, if it is parked (cancel.hpp).
  void post_cancel(TaskPtr task) noexcept;

  // The stealable queue of fibers that have never run (see scheduler.hpp).
  enum class Take { newest, oldest };  // the owner takes the newest, thieves the oldest
  void push_fresh(boost::fibers::context* ctx) noexcept;
  boost::fibers::context* pop_fresh(Take which) noexcept;
  std::size_t fresh_count() const noexcept { return fresh_count_.load(std::memory_order_relaxed); }

  // Called by the algorithm: wait in the reactor until the deadline or a wake(), and wake
  // the fibers parked on fds that became ready.
  void sleep_until(std::chrono::steady_clock::time_point deadline) noexcept;
  // Called by the algorithm between fibers, so that fibers that never let the worker
  // sleep do not starve I/O: collect ready fds without waiting. Cheap when no fd is armed.
  void poll_io_now() noexcept;
  bool has_armed_fds() const noexcept { return armed_fds_.load(std::memory_order_relaxed) > 0; }

  // Watch fd in this worker's reactor (io_wait.cpp); from any thread. 0 or -errno.
  int arm_fd(int fd, std::uint64_t token) noexcept;
  void disarm_fd(int fd) noexcept;
  // From any thread: end a current or the next sleep_until. Redundant calls are free.
  void wake() noexcept;
  bool asleep() const noexcept { return wake_state_.load(std::memory_order_relaxed) == kAsleep; }

  Runtime& runtime() const noexcept { return runtime_; }
  unsigned index() const noexcept { return index_; }

 private:
  void thread_main(std::atomic<bool>& started);
  void dispatch_events(int n) noexcept;

  enum : int { kRunning, kAsleep, kWoken };

  Runtime& runtime_;
  const unsigned index_;
  std::thread thread_;
  ReactorBackend reactor_;
  std::atomic<int> wake_state_{kRunning};
  std::atomic<int> armed_fds_{0};
  static constexpr int kEventBatch = 128;
  ReadyEvent events_[kEventBatch];  // used by this worker's thread only

  boost::fibers::context* main_ctx_ = nullptr;
  boost::fibers::scheduler* scheduler_ = nullptr;
  boost::fibers::detail::spinlock inbox_lock_;
  std::vector<TaskPtr> inbox_;  // guarded by inbox_lock_
  std::vector<TaskPtr> cancels_;  // guarded by inbox_lock_
  bool main_parked_ = false;    // guarded by inbox_lock_
  std::uint64_t posted_ = 0;    // guarded by inbox_lock_

  RecordList records_;
  std::atomic<std::uint64_t> switches_{0};
  WorkerCounters counters_;
  std::atomic<const boost::fibers::context*> on_cpu_{nullptr};
  std::atomic<pid_t> tid_{0};

  detail::Spinlock fresh_lock_;
  boost::fibers::scheduler::ready_queue_type fresh_;  // guarded by fresh_lock_
  std::atomic<std::size_t> fresh_count_{0};
};

}  // namespace weft::rt
