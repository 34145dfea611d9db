#include "worker.hpp"

#include "asan_annotations.hpp"
#include "cancel.hpp"
#include "fiber_lock.hpp"
#include "fiber_start.hpp"
#include "io_wait.hpp"
#include "runtime.hpp"
#include "thread_context.hpp"
#include "scheduler.hpp"
#include "stack_overflow.hpp"
#include "stack_pool.hpp"
#include "tsan_annotations.hpp"

#include <boost/fiber/operations.hpp>

#include <unistd.h>

#include <mutex>
#include <new>
#include <system_error>

namespace weft::rt {

namespace {
// Fibers waiting to start beyond which spawning wakes a sleeping worker to steal some.
constexpr std::size_t kStealBacklog = 2;
}  // namespace

Worker::Worker(Runtime& runtime, unsigned index) : runtime_(runtime), index_(index) {
  if (int err = reactor_open(reactor_); err < 0) {
    throw std::system_error(-err, std::generic_category(), "weft: cannot create a reactor");
  }
}

void Worker::start() {
  std::atomic<bool> started{false};
  thread_ = std::thread([this, &started] { thread_main(started); });
  thread_.detach();  // workers live as long as the process (README: "Shutdown")
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
}

void Worker::thread_main(std::atomic<bool>& started) {
  thread_context().worker = this;
  thread_context().worker_thread = true;
  asan::note_worker_thread();
  add_overflow_signal_stack();
  tid_.store(static_cast<pid_t>(::gettid()), std::memory_order_release);
  boost::fibers::use_scheduling_algorithm<FiberAlgorithm>(*this);
  main_ctx_ = boost::fibers::context::active();
  scheduler_ = main_ctx_->get_scheduler();
  thread_context().running = main_ctx_;
  started.store(true, std::memory_order_release);

  std::vector<TaskPtr> batch;
  std::vector<TaskPtr> cancels;
  for (;;) {
    auto lk = lock_fiber_spinlock(inbox_lock_);
    if (inbox_.empty() && cancels_.empty()) {
      main_parked_ = true;
      tsan::boost_unlocks(lk);
      main_ctx_->suspend(lk);  // the lock is released once this context is off the CPU
      continue;
    }
    batch.swap(inbox_);
    cancels.swap(cancels_);
    lk.unlock();
    for (auto& task : cancels) deliver_cancel(*task);
    cancels.clear();
    for (auto& task : batch) {
      detail::StateBase& state = *task;  // the inbox batch keeps it alive
      counters_.taken_from_inbox.bump();
      try {
        spawn_local(TaskPtr(task), /*nested=*/false);
      } catch (...) {
        // No memory for a stack: the task's waiters get the error instead of a hang
        // (unless a cancel() got there first, which set_exception would throw about).
        state.fail_unstarted(std::current_exception());
      }
    }
    batch.clear();
  }
}

void Worker::spawn_local(TaskPtr task, bool nested) {
  struct NewFiberScope {
    explicit NewFiberScope(bool nested) { mark_next_fiber_new(nested); }
    ~NewFiberScope() { mark_next_fiber_new(false); }
  };
  {
    NewFiberScope scope(nested);
    start_fiber(*scheduler_, task.get(), [](detail::StateBase* given) noexcept {
      {
        TaskPtr mine(given, /*add_ref=*/false);  // released before the fiber ends
        Worker& here = *thread_context().worker;  // fibers never move once started
        // Kept rather than read again at the end: in a child forked from this fiber the
        // thread context no longer names it.
        boost::fibers::context* const me = thread_context().running;
        alignas(FiberRecord) unsigned char storage[sizeof(FiberRecord)];
        auto* record = new (storage) FiberRecord(next_fiber_id(), mine.get(), here.index_, me);
        here.counters_.started.bump();
        here.records_.start(*record);
        mine->set_producer(thread_context().running);
        mine->run_task();
        if (record->published) unpublish_for_cancel(*record);
        // A flattening task completes later, from another fiber; once this one ends its
        // context address is reused.
        mine->set_producer(nullptr);
        here.records_.retire(*record);  // before `mine`, which owns the name, goes
      }
      stack_fiber_ended(thread_context().running);
    });
    task.detach();  // the fiber owns that reference now
  }
  counters_.created.bump();
  if (fresh_count() >= kStealBacklog) runtime_.wake_a_thief(*this);
}

void Worker::post(TaskPtr task) {
  auto lk = lock_fiber_spinlock(inbox_lock_);
  inbox_.push_back(std::move(task));
  ++posted_;
  const bool parked = std::exchange(main_parked_, false);
  lk.unlock();
  if (parked) main_ctx_->get_scheduler()->schedule_from_remote(main_ctx_);
}

std::uint64_t Worker::posted() noexcept {
  auto lk = lock_fiber_spinlock(inbox_lock_);
  return posted_;
}

void Worker::post_cancel(TaskPtr task) noexcept {
  auto lk = lock_fiber_spinlock(inbox_lock_);
  try {
    cancels_.push_back(std::move(task));
  } catch (const std::bad_alloc&) {
    // The request stays in the task's word; the fiber sees it when it next parks or
    // wakes, only not at once.
    return;
  }
  const bool parked = std::exchange(main_parked_, false);
  lk.unlock();
  if (parked) main_ctx_->get_scheduler()->schedule_from_remote(main_ctx_);
}

void Worker::push_fresh(boost::fibers::context* ctx) noexcept {
  std::lock_guard lk(fresh_lock_);
  ctx->ready_link(fresh_);
  fresh_count_.fetch_add(1, std::memory_order_relaxed);
}

boost::fibers::context* Worker::pop_fresh(Take which) noexcept {
  std::lock_guard lk(fresh_lock_);
  if (fresh_.empty()) return nullptr;
  boost::fibers::context* ctx;
  if (which == Take::newest) {
    ctx = &fresh_.back();
    fresh_.pop_back();
  } else {
    ctx = &fresh_.front();
    fresh_.pop_front();
  }
  fresh_count_.fetch_sub(1, std::memory_order_relaxed);
  return ctx;
}

void Worker::sleep_until(std::chrono::steady_clock::time_point deadline) noexcept {
  if (wake_state_.exchange(kAsleep, std::memory_order_acq_rel) == kWoken) {
    wake_state_.store(kRunning, std::memory_order_relaxed);
    return;
  }
  runtime_.note_asleep(+1);
  counters_.reactor_polls.bump();
  // steady_clock is CLOCK_MONOTONIC on Linux, so its epoch is the reactor's.
  const std::int64_t deadline_ns =
      deadline == std::chrono::steady_clock::time_point::max()
          ? -1
          : std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  const int n = reactor_poll(reactor_, deadline_ns, events_, kEventBatch);
  runtime_.note_asleep(-1);
  wake_state_.store(kRunning, std::memory_order_release);
  dispatch_events(n);
}

void Worker::poll_io_now() noexcept {
  if (!has_armed_fds()) return;
  counters_.reactor_polls.bump();
  dispatch_events(reactor_poll(reactor_, 0, events_, kEventBatch));
}

void Worker::dispatch_events(int n) noexcept {
  for (int i = 0; i < n; ++i) dispatch_fd_event(events_[i]);
}

int Worker::arm_fd(int fd, std::uint64_t token) noexcept {
  const int err = reactor_arm(reactor_, fd, token);
  if (err == 0) armed_fds_.fetch_add(1, std::memory_order_relaxed);
  return err;
}

void Worker::disarm_fd(int fd) noexcept {
  if (reactor_disarm(reactor_, fd) == 0) armed_fds_.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::wake() noexcept {
  if (wake_state_.exchange(kWoken, std::memory_order_acq_rel) == kAsleep) reactor_wake(reactor_);
}

}  // namespace weft::rt
