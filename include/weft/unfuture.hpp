// Unfuture<T>: a copyable handle to the result of work that may not have finished yet.
// get() suspends a fiber or blocks a plain thread; then() chains a continuation that runs
// as a fiber. See README.md, "The Unfuture API".
#pragma once

#include <weft/detail/deadline.hpp>
#include <weft/detail/state.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

template <class T>
class Unfuture;

namespace detail {

template <class T>
struct unwrap_unfuture {
  using type = T;
  static constexpr bool nested = false;
};
template <class T>
struct unwrap_unfuture<Unfuture<T>> {
  using type = T;
  static constexpr bool nested = true;
};

[[noreturn]] inline void throw_no_state() {
  throw std::future_error(std::future_errc::no_state);
}

template <class T>
StatePtr<T> state_of(const Unfuture<T>& u);

// Copies a completed state's outcome into another state.
template <class T>
void forward_outcome(State<T>& from, State<T>& to) noexcept {
  try {
    if (auto e = from.exception()) {
      from.mark_retrieved();
      to.set_exception(e);
    } else if constexpr (std::is_void_v<T>) {
      to.set_value();
    } else {
      to.set_value(from.value());
    }
  } catch (...) {
    to.set_exception(std::current_exception());
  }
}

// Runs fn and stores what it returns (or throws) in `to`. When fn returns an Unfuture,
// `to` completes when that one does (flattening).
template <class R, class Fn>
void complete_from(State<R>& to, Fn& fn) noexcept {
  using Raw = std::invoke_result_t<Fn&>;
  try {
    if constexpr (unwrap_unfuture<Raw>::nested) {
      Raw inner = std::invoke(fn);
      auto inner_state = state_of(inner);
      if (!inner_state) throw_no_state();
      inner_state->on_ready([inner_state, to_ptr = StatePtr<R>(&to)] {
        forward_outcome(*inner_state, *to_ptr);
      });
    } else if constexpr (std::is_void_v<R>) {
      std::invoke(fn);
      to.set_value();
    } else {
      to.set_value(std::invoke(fn));
    }
  } catch (...) {
    to.set_exception(std::current_exception());
  }
}

// A state that owns its work: fn runs at most once, on the fiber or thread it is launched
// on, unless fail_unstarted() (a cancel, a launch that failed) claims the start first.
template <class R, class Fn>
class TaskState final : public State<R> {
 public:
  explicit TaskState(Fn fn) : fn_(std::move(fn)) {}
  void run_task() noexcept override {
    if (!claim_start()) return;  // cancelled before it started: fn_ is gone already
    complete_from(*this, *fn_);
    fn_.reset();  // release captured arguments now, not when the last handle goes
  }
  bool fail_unstarted(std::exception_ptr reason) noexcept override {
    if (!claim_start()) return false;
    fn_.reset();
    // A launch that failed may have stored its error without claiming the start.
    return this->try_set_exception(std::move(reason));
  }

 private:
  // The one claim that decides between running fn and never running it.
  bool claim_start() noexcept { return !started_.exchange(true, std::memory_order_acq_rel); }

  std::atomic<bool> started_{false};
  std::optional<Fn> fn_;  // touched only by whoever won claim_start()
};

template <class R, class Fn>
Unfuture<R> adopt(boost::intrusive_ptr<TaskState<R, Fn>> task);

template <class Fn>
auto make_task(Fn fn) {
  using R = typename unwrap_unfuture<std::invoke_result_t<Fn&>>::type;
  return boost::intrusive_ptr<TaskState<R, Fn>>(new TaskState<R, Fn>(std::move(fn)));
}

}  // namespace detail

template <class T>
class Unfuture {
 public:
  using value_type = T;

  // An empty handle: every operation but valid() throws std::future_error(no_state).
  Unfuture() = default;
  explicit Unfuture(detail::StatePtr<T> state) : state_(std::move(state)) {}

  bool valid() const noexcept { return static_cast<bool>(state_); }
  bool ready() const { return checked().ready(); }

  // Waits, then returns the value or rethrows the exception. From a fiber only that fiber
  // waits. Throws deadlock_error when a fiber would wait for its own work.
  decltype(auto) get() const& {
    auto& s = checked();
    s.wait();
    s.rethrow_if_failed();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(s.value());
  }
  // On an rvalue handle: the value by value (moved out when T cannot be copied).
  T get() && {
    auto& s = checked();
    s.wait();
    s.rethrow_if_failed();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_copy_constructible_v<T>) {
      return s.value();
    } else {
      return std::move(s.value());
    }
  }

  void wait() const { checked().wait(); }

  // Cancels the work. Not started yet (a spawn_blocking call still queued, a spawn()
  // fiber that has not run, a then() continuation whose source is still pending): it
  // never runs, what it captured is released at once, and this completes with
  // weft::cancelled_error. A spawn() fiber already running: it is cancelled from now to
  // its end (<weft/cancel.hpp>): its waits fail, and what it returns or throws is the
  // result. Returns true in both cases; false, changing nothing, when the work is done,
  // when it runs on the spawn_blocking pool (a thread cannot be stopped), and for a
  // Promise's Unfuture (only the promise decides its result). From any fiber or thread.
  bool cancel() const { return detail::cancel_task(checked()); }

  // True if ready before the timeout. Zero, negative or past: only looks (true if ready);
  // too far for the clock: waits as long as the clock allows. NaN throws
  // std::invalid_argument.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    auto& s = checked();
    return s.wait_until(detail::deadline_after(timeout, "weft::Unfuture::wait_for"));
  }
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
    auto& s = checked();
    return s.wait_until(detail::to_steady(deadline, "weft::Unfuture::wait_until"));
  }

  // Runs c as a fiber once this completes and returns an Unfuture of what c returns
  // (flattened when c returns an Unfuture). c takes either this completed Unfuture — it
  // then runs even on failure and decides what to do — or the value (nothing for void),
  // in which case a failure skips c and passes straight to the result.
  template <class C>
  auto then(C c) const {
    auto& s = checked();
    auto source = *this;
    if constexpr (std::is_invocable_v<C&, Unfuture<T>&>) {
      auto task = detail::make_task([c = std::move(c), source]() mutable {
        return std::invoke(c, source);
      });
      s.on_ready([task] {
        if (!task->has_result()) detail::launch_fiber(task);  // else cancelled meanwhile
      });
      return detail::adopt(task);
    } else {
      auto task = detail::make_task([c = std::move(c), source]() mutable {
        if constexpr (std::is_void_v<T>) {
          return std::invoke(c);
        } else {
          return std::invoke(c, source.state_->value());
        }
      });
      s.on_ready([task, source] {
        if (auto e = source.state_->exception()) {
          // Handed on to the continuation's result, unless the continuation was cancelled.
          if (task->fail_unstarted(e)) source.state_->mark_retrieved();
        } else if (!task->has_result()) {
          detail::launch_fiber(task);
        }
      });
      return detail::adopt(task);
    }
  }

 private:
  detail::State<T>& checked() const {
    if (!state_) detail::throw_no_state();
    return *state_;
  }
  friend detail::StatePtr<T> detail::state_of<T>(const Unfuture<T>&);
  template <class>
  friend class Unfuture;

  detail::StatePtr<T> state_;
};

namespace detail {
template <class T>
StatePtr<T> state_of(const Unfuture<T>& u) {
  return u.state_;
}

template <class R, class Fn>
Unfuture<R> adopt(boost::intrusive_ptr<TaskState<R, Fn>> task) {
  return Unfuture<R>(StatePtr<R>(std::move(task)));
}
}  // namespace detail

}  // namespace weft
