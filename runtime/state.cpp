// StateBase: completion, waiting and the report of exceptions nobody retrieved.
#include <weft/detail/state.hpp>
#include <weft/errors.hpp>

#include "unretrieved.hpp"

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

void StateBase::publish() noexcept {
  producer_.store(nullptr, std::memory_order_relaxed);
  Callback* callbacks;
  bool has_waiters;
  {
    std::lock_guard lk(lock_);
    ready_.store(true, std::memory_order_release);
    callbacks = std::exchange(callbacks_, nullptr);
    has_waiters = has_waiters_;
  }
  // Skipping notify when nobody waits keeps a pool thread that completes a task from
  // creating a fiber scheduler of its own just to find an empty wait queue.
  if (has_waiters) waiters_.notify_all();

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
    std::lock_guard lk(lock_);
    if (!ready_.load(std::memory_order_relaxed)) {
      cb->next = callbacks_;
      callbacks_ = cb.release();
      return;
    }
  }
  cb->fire();
}

void StateBase::throw_if_self_join() const {
  const void* producer = producer_.load(std::memory_order_relaxed);
  if (producer != nullptr && producer == boost::fibers::context::active()) {
    throw deadlock_error("weft: a fiber waited for its own result");
  }
}

void StateBase::wait() {
  if (ready()) return;
  throw_if_self_join();
  std::unique_lock lk(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    has_waiters_ = true;
    waiters_.wait(lk);
  }
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (ready()) return true;
  throw_if_self_join();
  std::unique_lock lk(lock_);
  while (!ready_.load(std::memory_order_relaxed)) {
    has_waiters_ = true;
    if (waiters_.wait_until(lk, deadline) == boost::fibers::cv_status::timeout) {
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
