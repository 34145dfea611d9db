// StateBase: completion, waiting and the report of exceptions nobody retrieved.
#include <weft/detail/state.hpp>
#include <weft/errors.hpp>

#include "unretrieved.hpp"
#include "fiber_lock.hpp"
#include "parking.hpp"
#include "tsan_annotations.hpp"
#include "worker.hpp"

#include <boost/fiber/context.hpp>

namespace weft::detail {

StateBase::~StateBase() {
  for (Callback* c = callbacks_; c != nullptr;) {
    Callback* next = c->next;
    delete c;
    c = next;
  }
  if (exception_ && !retrieved_.load(std::memory_order_relaxed)) {
    rt::report_unretrieved(exception_, name_.get());
  }
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

void StateBase::publish() noexcept {
  producer_.store(nullptr, std::memory_order_relaxed);
  Callback* callbacks;
  {
    auto lk = rt::lock_fiber_spinlock(lock_);
    ready_.store(true, std::memory_order_release);
    callbacks = std::exchange(callbacks_, nullptr);
    // Waiters are woken under the lock: a timed waiter whose deadline passes at this
    // moment takes the lock to unlink itself, and must find itself either still queued
    // or already handled, never half-way through a list being walked.
    while (!waiters_.empty()) {
      boost::fibers::context* waiter = &waiters_.front();
      waiters_.pop_front();
      rt::wake_parked(waiter, this);
    }
  }

  // Callbacks were pushed newest first; run them in the order they were added.
  Callback* in_order = nullptr;
  while (callbacks != nullptr) {
    Callback* next = callbacks->next;
    callbacks->next = in_order;
    in_order = callbacks;
    callbacks = next;
  }
  while (in_order != nullptr) {
    Callback* next = in_order->next;
    in_order->fire();
    delete in_order;
    in_order = next;
  }
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
  cb->fire();
}

boost::fibers::context* StateBase::waiter_context() const {
  boost::fibers::context* me = rt::Worker::running_context();
  if (me == nullptr) me = boost::fibers::context::active();  // a plain thread's main context
  if (producer_.load(std::memory_order_relaxed) == me) {
    throw deadlock_error("weft: a fiber waited for its own result");
  }
  return me;
}

void StateBase::wait() {
  if (ready()) return;
  boost::fibers::context* me = waiter_context();
  auto lk = rt::lock_fiber_spinlock(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    me->wait_link(waiters_);
    me->twstatus.store(0, std::memory_order_release);
    rt::tsan::boost_unlocks(lk);
    me->suspend(lk);  // releases lk once this context is off the CPU
    rt::relock(lk);
  }
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (ready()) return true;
  boost::fibers::context* me = waiter_context();
  auto lk = rt::lock_fiber_spinlock(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    me->wait_link(waiters_);
    me->twstatus.store(reinterpret_cast<std::intptr_t>(this), std::memory_order_release);
    rt::tsan::boost_unlocks(lk);
    const bool notified = me->wait_until(deadline, lk);
    rt::relock(lk);
    if (!notified) {
      if (me->wait_is_linked()) me->wait_unlink();
      return ready_.load(std::memory_order_relaxed);
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
