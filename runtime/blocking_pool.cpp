#include "blocking_pool.hpp"

#include "thread_context.hpp"

#include <algorithm>
#include <thread>
#include <utility>

namespace weft::rt {

// A copy of a pool thread in a child after fork() is a plain thread of the child, not one
// of the parent's abandoned pool (whose queue and lock it must never touch):
// ThreadContext::reset_in_child forgets the pool.
BlockingPool* BlockingPool::of_this_thread() noexcept { return thread_context().blocking_pool; }

BlockingPool::BlockingPool(unsigned max_threads, unsigned queue_bound,
                           std::chrono::milliseconds idle_retire)
    : max_threads_(max_threads), queue_bound_(queue_bound), idle_retire_(idle_retire) {}

void BlockingPool::submit(TaskPtr task) {
  AfterUnlock after;
  std::unique_lock lk(lock_);
  // A pool thread never waits for room, and may take the queue past its bound: room is
  // made by pool threads finishing their tasks, so with every thread inside a task that
  // waits for room, none would ever finish.
  if (thread_context().blocking_pool != nullptr || (pending_.empty() && has_room_locked())) {
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

PoolStats BlockingPool::load() {
  std::lock_guard lk(lock_);
  return {threads_, busy_, queue_.size(), pending_.size()};
}

// Each of the threads that are free (idle, starting, or not started yet, up to the limit)
// will take one queued task; the tasks beyond those may number up to queue_bound_. Right
// after waits end, more threads may be busy than the limit allows: then none is free.
bool BlockingPool::has_room_locked() const noexcept {
  const unsigned limit = thread_limit_locked();
  const unsigned free_threads = limit > busy_ ? limit - busy_ : 0;
  return queue_.size() < std::size_t{queue_bound_} + free_threads;
}

std::exception_ptr BlockingPool::grow_locked() noexcept {
  // Grow when more tasks wait than idle threads can take, up to the limit; beyond it
  // tasks queue.
  if (queue_.size() <= idle_ || threads_ >= thread_limit_locked()) return nullptr;
  ++threads_;
  try {
    std::thread([this] { thread_main(); }).detach();
  } catch (...) {
    --threads_;
    return std::current_exception();
  }
  return nullptr;
}

void BlockingPool::enqueue_locked(TaskPtr task, AfterUnlock& after) {
  queue_.push_back(std::move(task));
  if (std::exception_ptr failed = grow_locked(); failed && threads_ == 0) {
    // No thread exists to get to the task later.
    after.unrunnable.push_back(std::move(queue_.back()));
    after.why_unrunnable = std::move(failed);
    queue_.pop_back();
    return;
  }
  if (idle_ > 0) work_ready_.notify_one();
}

void BlockingPool::waiting_begins() noexcept {
  AfterUnlock after;
  {
    std::lock_guard lk(lock_);
    ++waiting_;
    // If no thread can be made now, the ones there are get to the queue later.
    (void)grow_locked();
    // The thread in this one's place is room for one more waiting submission.
    admit_pending_locked(after);
  }
  after.finish();
}

void BlockingPool::waiting_ends() noexcept {
  std::lock_guard lk(lock_);
  --waiting_;
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
  thread_context().blocking_pool = this;
  std::unique_lock lk(lock_);
  for (;;) {
    // Threads started in place of waiting ones are surplus once the waits are over: the
    // first threads to notice retire, before taking a task (an idle one hands the wake-up
    // it got on to another idle thread).
    if (threads_ > thread_limit_locked()) {
      --threads_;
      if (!queue_.empty() && idle_ > 0) work_ready_.notify_one();
      return;
    }
    if (queue_.empty()) {
      ++idle_;
      const bool got_work =
          work_ready_.wait_for(lk, idle_retire_, [this] { return !queue_.empty(); });
      --idle_;
      if (!got_work) {
        --threads_;
        return;
      }
      continue;
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
