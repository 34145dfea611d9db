// The spawn_blocking thread pool: grows on demand up to a bound, and threads that stay
// idle for a while retire. A task's completion reaches a waiting fiber through the
// fiber's own scheduler (remote-ready queue + reactor wake-up), never by polling.
//
// The queue is bounded, with back-pressure instead of failure: a task waits in the queue
// only if no thread is free to take it (idle, starting, or not yet started because the
// pool is below max_threads), and when `queue_bound` tasks wait so, submit() parks its
// caller until there is room. Parked submitters form a FIFO of pending submissions.
// Each time room appears (a task taken by a thread that finished its last one, or a
// cancelled task removed from the queue) the oldest pending task is moved into the queue
// on its submitter's behalf, and only then is the submitter woken. Handing over the slot,
// rather than waking submitters to race for it, keeps them in order and loses none.
//
// The bound counts threads that run, not threads that wait. A task that waits in weft
// (Unfuture::get on another pool task, a Promise) holds its thread without using it, and
// with every thread so held the tasks they wait for would stay queued for ever. So while
// a pool thread is parked in a weft wait (StateBase::wait, through PoolThreadWaiting), the
// pool may start one more thread in its place; once the waits end, the threads beyond
// the bound retire as they finish their tasks. This is Java's ForkJoinPool managed
// blocking and Go's hand-off of a P from a thread blocked in a system call. Two rejected
// alternatives: running a still-queued task inline in the thread that joins it covers
// only joins of pool tasks (not a Promise kept by a queued task), and runs the task on a
// stack and a thread the caller did not expect; a bigger fixed pool only moves the depth
// at which nesting deadlocks.
#pragma once

#include <weft/detail/state.hpp>
#include <weft/stats.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <vector>

namespace weft::rt {

class BlockingPool {
 public:
  using TaskPtr = boost::intrusive_ptr<detail::StateBase>;

  BlockingPool(unsigned max_threads, unsigned queue_bound,
               std::chrono::milliseconds idle_retire = std::chrono::seconds(10));
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues task for a pool thread. When the queue is full, waits until the task is in
  // it: a fiber suspends only itself, a plain thread blocks. Never waits on a pool thread.
  void submit(TaskPtr task);

  // A task that was just cancelled leaves the queue (if it is there), freeing its slot
  // for the oldest pending submission.
  void remove_cancelled(const detail::StateBase& task);

  // What the pool holds now, for weft::stats() (<weft/stats.hpp> says what each is).
  PoolStats load();

  // The pool whose thread this is, or null on any other thread.
  static BlockingPool* of_this_thread() noexcept;
  // The calling pool thread parks in a weft wait (waiting_begins) or is back from it
  // (waiting_ends). Use PoolThreadWaiting rather than these.
  void waiting_begins() noexcept;
  void waiting_ends() noexcept;

 private:
  struct Pending {
    TaskPtr task;
    detail::StatePtr<void> admitted;  // completed once `task` is in the queue
  };
  // What to do once lock_ is released: it runs callbacks and user destructors.
  struct AfterUnlock {
    std::vector<detail::StatePtr<void>> admitted;  // submitters to wake
    std::vector<TaskPtr> unrunnable;                // no thread exists or could be started
    std::exception_ptr why_unrunnable;
    void finish() noexcept;
  };

  void thread_main();
  bool has_room_locked() const noexcept;
  // The bound on threads, raised by one for each pool thread parked in a weft wait.
  unsigned thread_limit_locked() const noexcept { return max_threads_ + waiting_; }
  // Starts a thread if queued tasks outnumber idle threads and the limit allows; returns
  // why the thread could not be created, or null.
  std::exception_ptr grow_locked() noexcept;
  void enqueue_locked(TaskPtr task, AfterUnlock& after);
  void admit_pending_locked(AfterUnlock& after);

  const unsigned max_threads_;
  const unsigned queue_bound_;
  const std::chrono::milliseconds idle_retire_;
  std::mutex lock_;
  std::condition_variable work_ready_;
  std::deque<TaskPtr> queue_;      // guarded by lock_
  std::deque<Pending> pending_;    // guarded by lock_; oldest first
  unsigned threads_ = 0;           // guarded by lock_
  unsigned idle_ = 0;              // guarded by lock_
  unsigned busy_ = 0;              // guarded by lock_; threads running a task
  unsigned waiting_ = 0;           // guarded by lock_; of those, parked in a weft wait
};

// For the span of a weft wait: on a pool thread, lets the pool run another thread in this
// one's place (see above); elsewhere it costs one thread-local read.
class PoolThreadWaiting {
 public:
  PoolThreadWaiting() noexcept : pool_(BlockingPool::of_this_thread()) {
    if (pool_ != nullptr) pool_->waiting_begins();
  }
  ~PoolThreadWaiting() {
    if (pool_ != nullptr) pool_->waiting_ends();
  }
  PoolThreadWaiting(const PoolThreadWaiting&) = delete;
  PoolThreadWaiting& operator=(const PoolThreadWaiting&) = delete;

 private:
  BlockingPool* pool_;
};

}  // namespace weft::rt
