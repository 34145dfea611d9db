// Promise<T>: the writing end of an Unfuture, for results produced outside weft's own
// spawn functions (a callback, another thread, a C library). Movable, not copyable.
#pragma once

#include <weft/unfuture.hpp>

#include <exception>
#include <future>
#include <utility>

namespace weft {

template <class T>
class Promise {
 public:
  Promise() : state_(new detail::State<T>) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  // A promise destroyed before it was set breaks it: waiters get
  // std::future_error(broken_promise).
  ~Promise() { abandon(); }

  // Any number of handles to the same result.
  Unfuture<T> get_unfuture() const { return Unfuture<T>(checked_state()); }

  // From any fiber or thread. A second set throws
  // std::future_error(promise_already_satisfied); a moved-from promise throws no_state.
  template <class... A>
  void set_value(A&&... a) {
    checked_state()->set_value(std::forward<A>(a)...);
  }
  void set_exception(std::exception_ptr e) { checked_state()->set_exception(std::move(e)); }

 private:
  const detail::StatePtr<T>& checked_state() const {
    if (!state_) detail::throw_no_state();
    return state_;
  }
  void abandon() noexcept {
    if (!state_ || state_->has_result()) return;
    try {
      state_->set_exception(std::make_exception_ptr(std::future_error(std::future_errc::broken_promise)));
      state_->mark_retrieved();  // a broken promise is news to waiters only, not a lost error
    } catch (const std::future_error&) {
      // set concurrently with our destruction: that result stands
    }
  }

  detail::StatePtr<T> state_;
};

}  // namespace weft
