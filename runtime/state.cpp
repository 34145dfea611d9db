// StateBase: completion, waiting and the report of exceptions nobody retrieved.
#include <weft/detail/state.hpp>
#include <weft/errors.hpp>

#include "cancel.hpp"
#include "park.hpp"
#include "stack_pool.hpp"
#include "thread_context.hpp"
#include "unretrieved.hpp"
#include "worker.hpp"

#include <chrono>
#include <stdexcept>

namespace weft::detail {

StateBase::~StateBase() {
  for (Callback* c = callbacks_; c != nullptr;) {
    Callback* next = c->next;
    delete c;
    c = next;
  }
  if (exception_ && !retrieved_.load(std::memory_order_relaxed)) {
    rt::report_unretrieved(exception_, name());
  }
}

void StateBase::set_stack_size(std::size_t bytes) {
  // Small sizes are rounded up (the pool's minimum) like any other; a size beyond the
  // largest is a mistake, and spawn reports it to its caller before any fiber exists.
  if (bytes > rt::kMaxStackSize) {
    throw std::invalid_argument("weft::spawn: FiberOptions::stack_size must be at most 1 GiB");
  }
  options().stack_size = bytes;
}

void StateBase::claim_result() {
  if (claimed_.exchange(true, std::memory_order_acq_rel)) {
    throw std::future_error(std::future_errc::promise_already_satisfied);
  }
}

void StateBase::set_exception(std::exception_ptr e) {
  if (!e) throw std::invalid_argument("weft: set_exception with a null exception_ptr");
  claim_result();
  exception_ = std::move(e);
  publish();
}

bool StateBase::try_set_exception(std::exception_ptr e) noexcept {
  if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
  exception_ = std::move(e);
  publish();
  return true;
}

namespace {

// ThreadContext::callbacks: callbacks of states that completed while this thread was
// already running callbacks.
// A callback that completes another state (flattening forwards an inner result to the
// outer state, when_all counts an arrival) would otherwise run that state's callbacks
// inside its own frame: a chain of N flattening levels nested N publishes on one stack and
// overflowed a fiber's from about 1,500 levels. Instead the outermost publish on the
// thread runs them all, one after another, in the order the states completed.
//
// The queue is the thread's, not a frame's: a callback should not block, but the
// destructor of what it releases might, and then another fiber of this worker runs while
// a drain is half done. That fiber does not touch the queue (it runs its own callbacks
// nested, as before); the drain goes on when its owner resumes, on this same thread
// (fibers never move once started).
void run_in_order(Callback* first) noexcept {
  while (first != nullptr) {
    Callback* next = first->next;
    first->fire();
    delete first;
    first = next;
  }
}

}  // namespace

void StateBase::run_callbacks(Callback* newest_first) noexcept {
  // Pushed newest first; run in the order they were added.
  Callback* first = nullptr;
  Callback* last = newest_first;
  while (newest_first != nullptr) {
    Callback* next = newest_first->next;
    newest_first->next = first;
    first = newest_first;
    newest_first = next;
  }
  rt::ThreadContext::CallbackQueue& q = rt::thread_context().callbacks;
  const void* me = rt::Worker::running_context();
  if (q.draining) {
    if (q.owner == me) {
      (q.tail != nullptr ? q.tail->next : q.head) = first;
      q.tail = last;
    } else {
      run_in_order(first);  // another fiber's drain is suspended half-way (see above)
    }
    return;
  }
  // Field by field, with no temporary: under ASan a stack temporary here, written just
  // after an exception unwound frames on this fiber's stack, is reported against the
  // stale scope poison those frames left (weft does not announce fiber switches to ASan,
  // so ASan declines to clear it when the exception is thrown).
  q.head = first;
  q.tail = last;
  q.owner = me;
  q.draining = true;
  while (q.head != nullptr) {
    Callback* c = q.head;
    q.head = c->next;
    if (q.head == nullptr) q.tail = nullptr;
    c->fire();
    delete c;
  }
  q.draining = false;
  q.owner = nullptr;
}

void StateBase::publish() noexcept {
  producer_.store(nullptr, std::memory_order_relaxed);
  Callback* callbacks;
  {
    auto lk = rt::lock_fiber_spinlock(lock_);
    ready_.store(true, std::memory_order_release);
    callbacks = std::exchange(callbacks_, nullptr);
    // In a child after fork(), the waiters of a parent's state are copies of the parent's
    // fibers and threads: nobody here to wake, and their schedulers are the parent's.
    if (generation_ == fork_generation) {
      rt::wake_all(waiters_);
    } else {
      waiters_ = WaitList{};
    }
  }

  if (callbacks != nullptr) run_callbacks(callbacks);
}

void StateBase::add_callback(std::unique_ptr<Callback> cb) {
  {
    auto lk = rt::lock_fiber_spinlock(lock_);
    if (!ready_.load(std::memory_order_relaxed)) {
      cb->next = callbacks_;
      callbacks_ = cb.release();
      return;
    }
  }
  cb->next = nullptr;
  run_callbacks(cb.release());
}

void StateBase::check_can_wait() const {
  if (generation_ != fork_generation) {
    // Its work ran in the parent, and a parent's fibers and threads do not exist here.
    throw deadlock_error("weft: waited in a child process for an Unfuture made before fork(); "
                         "its work stayed in the parent");
  }
  const void* me = rt::Worker::running_context();
  if (me != nullptr && producer_.load(std::memory_order_relaxed) == me) {
    throw deadlock_error("weft: a fiber waited for its own result");
  }
}

namespace {

rt::WaitKind wait_kind_for(StateBase::Origin origin) noexcept {
  switch (origin) {
    case StateBase::Origin::blocking_pool: return rt::WaitKind::blocking_call;
    case StateBase::Origin::process_pool: return rt::WaitKind::process_task;
    default: return rt::WaitKind::unfuture;
  }
}

}  // namespace

void StateBase::abandon_wait() {
  // CPU work in a worker process is nobody's once its waiter is cancelled: the process
  // goes (the pool starts another). A spawn_blocking thread cannot be stopped; its result
  // is dropped when it comes.
  if (origin() == Origin::process_pool) (void)cancel_task(*this);
  rt::throw_cancelled();
}

void StateBase::wait() {
  if (ready()) return;
  check_can_wait();
  auto lk = rt::lock_fiber_spinlock(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    if (rt::park(waiters_, lk, std::chrono::steady_clock::time_point::max(), {wait_kind_for(origin()), this}) ==
        rt::ParkResult::cancelled) {
      lk.unlock();
      abandon_wait();
    }
  }
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (ready()) return true;
  check_can_wait();
  // A poll (wait_for(0), a deadline gone) does not park, so a pool thread lends no slot.
  if (deadline <= std::chrono::steady_clock::now()) return ready();
  auto lk = rt::lock_fiber_spinlock(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    const rt::ParkResult outcome = rt::park(waiters_, lk, deadline, {wait_kind_for(origin()), this});
    if (outcome == rt::ParkResult::timed_out) return ready_.load(std::memory_order_relaxed);
    if (outcome == rt::ParkResult::cancelled) {
      lk.unlock();
      abandon_wait();
    }
  }
  return true;
}

void StateBase::rethrow_if_failed() const {
  if (exception_) {
    mark_retrieved();
    std::rethrow_exception(exception_);
  }
}

}  // namespace weft::detail
