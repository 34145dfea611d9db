// Stopping fibers (SPEC 4a): cancellation that reaches blocked calls, Timeout, Shield.
//
// Unfuture::cancel() stops the fiber running that work, before it starts or while it runs,
// and the request is sticky: it holds until the fiber ends. A cancelled fiber sees it
// wherever it would wait:
//   - a hooked libc call that would block (read, recv, connect, poll, sleep, getaddrinfo,
//     ...) returns -1 with ECANCELED, never EINTR or EAGAIN, which C clients retry for
//     ever; calls that need no wait (a close, a send that fits) still work, so a client
//     can clean up;
//   - weft's own waiting calls (Unfuture::get, sleep_for, this_fiber::yield, Mutex,
//     channels, Event, Semaphore, WaitGroup, weft::net) throw weft::cancelled_error.
// Under a Timeout whose deadline has passed, the same happens with ETIMEDOUT and
// weft::timeout_error, until the Timeout's scope ends. Nothing is ever thrown out of a
// hooked libc call, so no exception crosses C frames.
//
// Not cancellation points: waits on pthread locks and libstdc++'s own (std::mutex,
// std::condition_variable, std::future, std::thread::join, semaphores), which C and C++
// code cannot see fail; a cancelled fiber waits there as before, and sees the cancel at
// its next wait of the kinds above. A fiber that only computes sees it at
// this_fiber::check_cancel().
//
// Plain threads are never cancelled: a Timeout or Shield on one does nothing.
#pragma once

#include <weft/deadline.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

namespace weft {

// While in scope, the calling fiber is not stopped by a cancel or a Timeout: for clean-up
// that must wait (a polite shutdown, a last log line). A pending cancel takes effect at
// the first wait after the scope ends. Nests.
class Shield {
 public:
  Shield() noexcept;
  ~Shield();
  Shield(const Shield&) = delete;
  Shield& operator=(const Shield&) = delete;

 private:
  void* record_;  // the fiber's record, or null on a plain thread
};

// Stops the calling fiber's waits once `deadline` passes (a duration counts from now),
// as a cancel does but with ETIMEDOUT / weft::timeout_error, until the scope ends.
// Nested Timeouts: the earliest deadline rules. Entering and leaving one that does not
// fire costs a clock read and no system call.
//
//   weft::Timeout t(200ms);
//   redisReply* r = redisCommand(c, "BLPOP jobs 5");  // null, err set, after ~200 ms
//   if (t.expired()) ...
class Timeout {
 public:
  explicit Timeout(Deadline deadline) noexcept;
  ~Timeout();
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;

  // Its own deadline has passed (whether or not any wait noticed).
  bool expired() const noexcept { return deadline_.passed(); }
  Deadline deadline() const noexcept { return deadline_; }

 private:
  void* record_;          // the fiber's record, or null on a plain thread
  Deadline deadline_;
  std::int64_t outer_ns_;  // the enclosing scope's deadline, restored on leaving
};

// f() under a Timeout of `deadline`: its result, or weft::timeout_error from the first
// of weft's waits that the deadline stops (or whatever f makes of a failed libc call).
template <class F>
auto with_timeout(Deadline deadline, F&& f) -> std::invoke_result_t<F&&> {
  Timeout scope(deadline);
  return std::invoke(std::forward<F>(f));
}

namespace this_fiber {
// The calling fiber's next cancellable wait would end at once: it was cancelled, or a
// Timeout in scope has passed, and no Shield is in scope. False on a plain thread.
bool cancelled() noexcept;
// Throws weft::cancelled_error or weft::timeout_error if cancelled() (for loops that only
// compute, as Go code polls ctx.Err()).
void check_cancel();
}  // namespace this_fiber

}  // namespace weft
