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
#pragma once

#include <weft/detail/state.hpp>

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
};

}  // namespace weft::rt
