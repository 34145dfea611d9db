#include "blocking_pool.hpp"

#include <system_error>
#include <thread>

namespace weft::rt {

BlockingPool::BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_retire)
    : max_threads_(max_threads), idle_retire_(idle_retire) {}

void BlockingPool::submit(TaskPtr task) {
  std::unique_lock lk(lock_);
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
        TaskPtr lost = std::move(queue_.back());
        queue_.pop_back();
        lk.unlock();
        lost->set_exception(std::current_exception());
        return;
      }
    }
  }
  if (idle_ > 0) work_ready_.notify_one();
}

void BlockingPool::thread_main() {
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
    lk.unlock();
    task->run_task();
    task.reset();  // last handle may go here: report unretrieved errors outside the lock
    lk.lock();
  }
}

}  // namespace weft::rt
