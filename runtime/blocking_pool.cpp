#include "blocking_pool.hpp"

#include <algorithm>
#include <system_error>
#include <thread>
#include <utility>

namespace weft::rt {

namespace {

thread_local bool on_pool_thread = false;

}  // namespace

BlockingPool::BlockingPool(unsigned max_threads, unsigned queue_bound,
                           std::chrono::milliseconds idle_retire)
    : max_threads_(max_threads), queue_bound_(queue_bound), idle_retire_(idle_retire) {}

void BlockingPool::submit(TaskPtr task) {
  AfterUnlock after;
  std::unique_lock lk(lock_);
  // A pool thread never waits for room, and may take the queue past its bound: room is
  // made by pool threads finishing their tasks, so with every thread inside a task that
  // waits for room, none would ever finish.
  if (on_pool_thread || (pending_.empty() && has_room_locked())) {
    enqueue_locked(std::move(task), after);
    lk.unlock();
    after.finish();
    return;
  }
  detail::StatePtr<void> admitted(new detail::State<void>);
  pending_.push_back(Pending{std::move(task), admitted});
  lk.unlock();
  admitted->wait();  // a fiber parks itself only; a plain thread blocks
}

void BlockingPool::remove_cancelled(const detail::StateBase& task) {
  TaskPtr removed;  // released after the lock: the last reference may go with it
  AfterUnlock after;
  {
    std::lock_guard lk(lock_);
    auto it = std::find_if(queue_.begin(), queue_.end(),
                           [&](const TaskPtr& queued) { return queued.get() == &task; });
    if (it == queue_.end()) return;  // not a pool task, or a thread has taken it
    removed = std::move(*it);
    queue_.erase(it);
    admit_pending_locked(after);
  }
  after.finish();
}

// Each of the max_threads_ - busy_ threads that are free (idle, starting, or not started
// yet) will take one queued task; the tasks beyond those may number up to queue_bound_.
bool BlockingPool::has_room_locked() const noexcept {
  return queue_.size() < std::size_t{queue_bound_} + (max_threads_ - busy_);
}

void BlockingPool::enqueue_locked(TaskPtr task, AfterUnlock& after) {
  queue_.push_back(std::move(task));
  // Grow when more tasks wait than idle threads can take, up to the bound; beyond it
  // tasks queue.
  if (queue_.size() > idle_ && threads_ < max_threads_) {
    ++threads_;
    try {
      std::thread([this] { thread_main(); }).detach();
    } catch (const std::system_error&) {
      --threads_;  // the threads there are will get to the task
      if (threads_ == 0) {
        after.unrunnable.push_back(std::move(queue_.back()));
        after.why_unrunnable = std::current_exception();
        queue_.pop_back();
        return;
      }
    }
  }
  if (idle_ > 0) work_ready_.notify_one();
}

void BlockingPool::admit_pending_locked(AfterUnlock& after) {
  while (!pending_.empty() && has_room_locked()) {
    Pending next = std::move(pending_.front());
    pending_.pop_front();
    enqueue_locked(std::move(next.task), after);
    after.admitted.push_back(std::move(next.admitted));
  }
}

void BlockingPool::AfterUnlock::finish() noexcept {
  for (TaskPtr& task : unrunnable) task->fail_unstarted(why_unrunnable);
  for (auto& submitter : admitted) submitter->set_value();
}

void BlockingPool::thread_main() {
  on_pool_thread = true;
  std::unique_lock lk(lock_);
  for (;;) {
    if (queue_.empty()) {
      ++idle_;
      const bool got_work =
          work_ready_.wait_for(lk, idle_retire_, [this] { return !queue_.empty(); });
      --idle_;
      if (!got_work) {
        --threads_;
        return;
      }
    }
    TaskPtr task = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    // A thread that just finished a task and takes the next one leaves the queue shorter
    // with no fewer free threads: room for the oldest pending submission.
    AfterUnlock after;
    admit_pending_locked(after);
    lk.unlock();
    after.finish();
    task->run_task();
    task.reset();  // last handle may go here: report unretrieved errors outside the lock
    lk.lock();
    --busy_;
  }
}

}  // namespace weft::rt
