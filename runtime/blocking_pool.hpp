// The spawn_blocking thread pool: grows on demand up to a bound, and threads that stay
// idle for a while retire. A task's completion reaches a waiting fiber through the
// fiber's own scheduler (remote-ready queue + reactor wake-up), never by polling.
#pragma once

#include <weft/detail/state.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace weft::rt {

class BlockingPool {
 public:
  using TaskPtr = boost::intrusive_ptr<detail::StateBase>;

  explicit BlockingPool(unsigned max_threads,
                        std::chrono::milliseconds idle_retire = std::chrono::seconds(10));
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  void submit(TaskPtr task);

 private:
  void thread_main();

  const unsigned max_threads_;
  const std::chrono::milliseconds idle_retire_;
  std::mutex lock_;
  std::condition_variable work_ready_;
  std::deque<TaskPtr> queue_;  // guarded by lock_
  unsigned threads_ = 0;       // guarded by lock_
  unsigned idle_ = 0;          // guarded by lock_
};

}  // namespace weft::rt
