// spawn_process: CPU-bound work in a pool of worker processes (unsync's cpu_bound=True).
//
//   int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
//   weft::Unfuture<int> u = weft::spawn_process(fib, 40);   // runs in another process
//   int v = u.get();   // a fiber yields meanwhile; a plain thread blocks
//
// The function is a plain function, a lambda without captures, or a function object with a
// serialize member; arguments and the result cross by <weft/serialize.hpp>. Worker
// processes re-execute this program's file (they run its static constructors, then serve
// tasks instead of main). See README.md, "Worker processes", for the rules and the faults.
#pragma once

#include <weft/detail/process_entry.hpp>
#include <weft/serialize.hpp>
#include <weft/unfuture.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weft {

// Why a task could not finish in its worker process.
enum class process_errc {
  crashed = 1,      // the worker was killed by a signal (SIGSEGV, SIGABRT, SIGKILL, ...)
  exited,           // the worker called exit() or _exit() in the middle of the task
  timed_out,        // the task ran longer than its timeout; the worker was killed
  unavailable,      // the worker could not find the function (see README.md)
  start_failed,     // no worker process could be started
};

const std::error_category& process_category() noexcept;
std::error_code make_error_code(process_errc e) noexcept;

// A worker process failed under a task. The pool has replaced the worker; other tasks go on.
class process_error : public std::system_error {
 public:
  process_error(process_errc code, const std::string& what, int signal = 0, int exit_status = -1)
      : std::system_error(make_error_code(code), what), signal_(signal), exit_status_(exit_status) {}
  // The signal that ended the worker (crashed), else 0.
  int signal() const noexcept { return signal_; }
  // The worker's exit status (exited), else -1.
  int exit_status() const noexcept { return exit_status_; }

 private:
  int signal_;
  int exit_status_;
};

// The task threw in the worker. what() is "<type>: <message>".
class remote_error : public std::runtime_error {
 public:
  remote_error(std::string type_name, std::string message)
      : std::runtime_error(type_name + ": " + message),
        type_name_(std::move(type_name)),
        message_(std::move(message)) {}
  // The exception's type as the worker saw it, demangled ("std::out_of_range").
  const std::string& type_name() const noexcept { return type_name_; }
  // Its what() in the worker.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

// Optional first argument of spawn_process.
struct ProcessOptions {
  // Longest the task may run once its worker starts it; zero: no limit. On expiry the
  // worker is killed and replaced and get() throws process_error(timed_out). A negative
  // timeout has expired already: the task never runs and get() throws at once. One too
  // large for steady_clock (over ~146 years) is no limit.
  std::chrono::milliseconds timeout{0};
};

namespace detail {

// The state of a spawn_process task: cancel() wins only while the task is still queued;
// the pool claims it (claim_start) when it takes the task for a worker.
template <class R>
class ProcessState final : public State<R> {
 public:
  bool fail_unstarted(std::exception_ptr reason) noexcept override {
    return claim_start() && this->try_set_exception(std::move(reason));
  }
  bool cancel_started() noexcept override { return cancel_in_worker(*this, worker_); }
  bool claim_start() noexcept { return !started_.exchange(true, std::memory_order_acq_rel); }
  std::atomic<int>& worker() noexcept { return worker_; }

 private:
  std::atomic<bool> started_{false};
  std::atomic<int> worker_{0};  // the pid of the worker process running it now; 0: none
};

// The pool's side of cancelling a task its worker `worker` (a pid, 0: none) runs now:
// completes `state` with cancelled_error and kills that worker (the pool starts another);
// false if no worker runs it or it has its result (process/pool.cpp).
bool cancel_in_worker(StateBase& state, std::atomic<int>& worker) noexcept;

// One task handed to the process pool (process/pool.cpp).
struct ProcessRequest {
  const ProcessEntry* entry = nullptr;
  void (*fn)() = nullptr;  // the function, when it crosses as a pointer
  std::string payload;     // the function's state (if any) and the arguments, serialized
  std::chrono::milliseconds timeout{0};
  boost::intrusive_ptr<StateBase> state;
  // Stores the result read from `in` in `state`.
  void (*deliver)(StateBase& state, InArchive& in) = nullptr;
  // False if the task was cancelled; else it can no longer be.
  bool (*claim_start)(StateBase& state) = nullptr;
  // The task's ProcessState::worker().
  std::atomic<int>* (*worker_of)(StateBase& state) = nullptr;
};

void launch_process(ProcessRequest request);

// The pool adds a task's timeout to steady_clock's now: one that could overflow there
// waits as long as the clock allows, which is no limit (0). Half the clock's range leaves
// the other half for the uptime.
inline std::chrono::milliseconds process_timeout_or_none(std::chrono::milliseconds timeout) noexcept {
  constexpr auto longest =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::duration::max()) / 2;
  return timeout > longest ? std::chrono::milliseconds(0) : timeout;
}

template <class R>
void deliver_result(StateBase& state, InArchive& in) {
  auto& s = static_cast<State<R>&>(state);
  if constexpr (std::is_void_v<R>) {
    s.set_value();
  } else {
    R value{};
    in(value);
    s.set_value(std::move(value));
  }
}

// What f(args...) returns; void when it cannot be called, so that the static_asserts in
// check_process_call, not a bare "no matching function", tell the user what is wrong.
template <class Fn, class... A>
struct process_result {
  using type = void;
};
template <class Fn, class... A>
  requires std::is_invocable_v<Fn, A...>
struct process_result<Fn, A...> {
  using type = std::invoke_result_t<Fn, A...>;
};
template <class R>
bool claim_process_start(StateBase& state) {
  return static_cast<ProcessState<R>&>(state).claim_start();
}
template <class R>
std::atomic<int>* process_worker_of(StateBase& state) {
  return &static_cast<ProcessState<R>&>(state).worker();
}

template <class F, class... Args>
using process_result_t = typename process_result<std::decay_t<F>, std::decay_t<Args>...>::type;

// Fails the build with a message for each thing wrong with spawn_process(f, args...), and
// returns whether the call can be made, so that its body is not instantiated after a
// failure (which would bury the messages under unrelated errors).
template <class Fn, class... A>
constexpr bool check_process_call() {
  constexpr bool callable = process_callable<Fn>;
  static_assert(callable,
                "weft::spawn_process: the function must be a plain function, a lambda without "
                "captures, or a function object with a serialize member. A capturing lambda or "
                "std::function refers to this process's memory: pass what it captures as "
                "arguments instead.");
  (wire::require_serializable<A>(), ...);
  constexpr bool invocable = std::is_invocable_v<Fn, A...>;
  static_assert(invocable, "weft::spawn_process: the function cannot be called with these arguments");
  bool ok = callable && (serializable<A> && ...) && invocable;
  if constexpr (invocable) {
    using R = std::invoke_result_t<Fn, A...>;
    constexpr bool plain_result = !unwrap_unfuture<R>::nested;
    static_assert(plain_result,
                  "weft::spawn_process: the function returns an Unfuture, which cannot cross a "
                  "process boundary; return its value");
    ok = ok && plain_result;
    if constexpr (!std::is_void_v<R>) {
      wire::require_serializable<R>();
      constexpr bool default_constructible = std::is_default_constructible_v<R>;
      static_assert(default_constructible,
                    "weft::spawn_process: the result type must be default-constructible");
      ok = ok && serializable<R> && default_constructible;
    }
  }
  return ok;
}

}  // namespace detail

// Runs f(args...) in a worker process and returns its result through an Unfuture.
template <class F, class... Args>
Unfuture<detail::process_result_t<F, Args...>> spawn_process(ProcessOptions options, F&& f,
                                                             Args&&... args) {
  using Fn = std::decay_t<F>;
  constexpr bool call_ok = detail::check_process_call<Fn, std::decay_t<Args>...>();
  using R = detail::process_result_t<F, Args...>;
  if constexpr (!call_ok) {
    return {};  // the static_asserts above have failed the build
  } else {
    detail::StatePtr<R> state(new detail::ProcessState<R>);
    if (options.timeout < options.timeout.zero()) {
      state->set_exception(std::make_exception_ptr(process_error(
          process_errc::timed_out, "weft::spawn_process: negative timeout: the task timed out before it started")));
      return Unfuture<R>(std::move(state));
    }
    detail::ProcessRequest request;
    request.entry = &detail::process_entry<Fn, std::decay_t<Args>...>;
    if constexpr (detail::is_function_pointer<Fn>) {
      Fn fn = f;
      if (fn == nullptr) throw std::invalid_argument("weft::spawn_process: null function pointer");
      request.fn = reinterpret_cast<void (*)()>(fn);
    }
    OutArchive out(request.payload);
    if constexpr (detail::is_serialized_callable<Fn>) out(static_cast<const Fn&>(f));
    out(static_cast<const std::decay_t<Args>&>(args)...);
    request.timeout = detail::process_timeout_or_none(options.timeout);
    request.state = state;
    request.deliver = &detail::deliver_result<R>;
    request.claim_start = &detail::claim_process_start<R>;
    request.worker_of = &detail::process_worker_of<R>;
    detail::launch_process(std::move(request));
    return Unfuture<R>(std::move(state));
  }
}

template <class F, class... Args>
  requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>)
Unfuture<detail::process_result_t<F, Args...>> spawn_process(F&& f, Args&&... args) {
  return spawn_process(ProcessOptions{}, std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::process_errc> : std::true_type {};
