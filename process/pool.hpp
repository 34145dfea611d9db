// The spawn_process pool: a fixed number of slots (Config::process_workers), each with at
// most one worker process, started when a task first needs it and replaced when it dies.
//
// A slot with work has a driver fiber (drive) that sends tasks to its process and reads the
// replies; the fiber ends when the queue is empty, so an idle pool costs no fiber and no
// wake-up. Tasks that are quick compared with a round trip go out in batches (one write,
// one read for many), but never more than the slot's fair share of the queue, so a batch of
// long tasks cannot leave another slot idle.
#pragma once

#include "worker_process.hpp"

#include <weft/process.hpp>
#include <weft/stats.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace weft::rt::process {

struct Job {
  std::uint64_t id = 0;  // in its frame header, echoed in the reply
  std::string head;      // frame header and code addresses
  std::string payload;  // the entry's bytes (function state, arguments)
  std::chrono::milliseconds timeout{0};
  boost::intrusive_ptr<detail::StateBase> state;
  void (*deliver)(detail::StateBase&, InArchive&) = nullptr;
  bool (*claim_start)(detail::StateBase&) = nullptr;
  std::atomic<int>* (*worker_of)(detail::StateBase&) = nullptr;
  bool claimed = false;  // taken for a worker once: cancel() can no longer stop it
  int attempts = 0;      // workers that died before they had the whole task
};

class Pool {
 public:
  // The pool, made on first use with the runtime's process_workers.
  static Pool& get();
  // fork(), in the child: the pool's worker processes are the parent's children, on
  // channels shared with the parent, and its drivers were parent fibers; the next get()
  // makes a new pool. The old one is leaked (runtime/fork.cpp).
  static void forget_in_child() noexcept;

  explicit Pool(unsigned slots);
  void submit(Job job);
  // For weft::stats(), from any thread (takes the queue's lock briefly).
  ProcessPoolStats load();

 private:
  struct Slot {
    std::optional<WorkerProcess> process;
    bool driving = false;  // guarded by lock_
    // For load(), written by the driver only: a process is up, and the tasks taken for it
    // (take_batch, under lock_) that it has not answered yet, the first of them running
    // (or about to, once a process starts).
    std::atomic<bool> up{false};
    std::atomic<unsigned> unanswered{0};
  };

  void drive(unsigned slot);
  // The next tasks for `slot`; empty (and the slot no longer driving) when there are none.
  std::vector<Job> take_batch(unsigned slot);
  void put_back(std::vector<Job>& batch, std::size_t from);
  void run_batch(Slot& slot, std::vector<Job>& batch);
  void note_task_time(std::chrono::nanoseconds t) noexcept;

  std::mutex lock_;
  std::deque<Job> queue_;     // guarded by lock_
  std::vector<Slot> slots_;   // `driving` guarded by lock_; the rest owned by the driver
  unsigned driving_ = 0;      // guarded by lock_
  // Recent time per task in the worker, smoothed; decides whether batching pays.
  std::atomic<std::int64_t> task_ns_{0};
};

}  // namespace weft::rt::process
