// The sleeps. In a fiber they become timers on the worker (so std::this_thread::sleep_for
// in a fiber lets the others run); on a plain thread they are libc's. A fiber's sleep is
// never cut short by a signal, as in gevent and Go, so it never reports EINTR. A cancel
// (or a Timeout) cuts it short: ECANCELED (ETIMEDOUT), with the time left where the call
// reports it, as for a signal on a thread.
#include "cancel.hpp"
#include "fiber_sleep.hpp"
#include "io_gate.hpp"

#include <algorithm>
#include <climits>

using weft::shim::cancellable_sleep_until;
using weft::shim::monotonic_deadline;
using weft::shim::in_fiber;

namespace {

// The time from now to deadline_ns (-1: never), at least 0.
timespec time_left(std::int64_t deadline_ns) noexcept {
  if (deadline_ns < 0) return timespec{INT64_MAX / weft::shim::kNsPerSec, 0};
  const std::int64_t left = std::max<std::int64_t>(0, deadline_ns - weft::rt::monotonic_ns());
  return timespec{static_cast<time_t>(left / weft::shim::kNsPerSec), static_cast<long>(left % weft::shim::kNsPerSec)};
}

bool sleepable_clock(clockid_t clock) noexcept {
  return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME || clock == CLOCK_BOOTTIME ||
         clock == CLOCK_TAI;
}

}  // namespace

extern "C" {

int nanosleep(const struct timespec* req, struct timespec* rem) {
  if (!in_fiber() || req == nullptr) return WEFT_REAL(nanosleep)(req, rem);  // EFAULT
  if (!weft::shim::valid_timespec(*req)) {
    errno = EINVAL;
    return -1;
  }
  const std::int64_t deadline = weft::shim::deadline_after(*req, weft::rt::monotonic_ns());
  if (cancellable_sleep_until(deadline)) return 0;
  if (rem != nullptr) *rem = time_left(deadline);
  errno = weft::rt::cancel_errno();
  return -1;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
  if (!in_fiber() || req == nullptr || !sleepable_clock(clock)) {
    return WEFT_REAL(clock_nanosleep)(clock, flags, req, rem);
  }
  if (!weft::shim::valid_timespec(*req)) return EINVAL;
  const std::int64_t now = weft::rt::monotonic_ns();
  if ((flags & TIMER_ABSTIME) == 0) {
    const std::int64_t deadline = weft::shim::deadline_after(*req, now);
    if (cancellable_sleep_until(deadline)) return 0;
    if (rem != nullptr) *rem = time_left(deadline);
    return weft::rt::cancel_errno();
  }
  const std::int64_t deadline = monotonic_deadline(clock, *req);
  if (deadline >= 0 && deadline <= now) return 0;  // already past: no yield, as libc
  return cancellable_sleep_until(deadline) ? 0 : weft::rt::cancel_errno();
}

int usleep(useconds_t usec) {
  if (!in_fiber()) return WEFT_REAL(usleep)(usec);
  if (cancellable_sleep_until(weft::rt::monotonic_ns() + static_cast<std::int64_t>(usec) * 1000)) return 0;
  errno = weft::rt::cancel_errno();
  return -1;
}

unsigned sleep(unsigned seconds) {
  if (!in_fiber()) return WEFT_REAL(sleep)(seconds);
  const std::int64_t deadline = weft::rt::monotonic_ns() + static_cast<std::int64_t>(seconds) * weft::shim::kNsPerSec;
  if (cancellable_sleep_until(deadline)) return 0;
  errno = weft::rt::cancel_errno();
  const timespec left = time_left(deadline);
  return static_cast<unsigned>(left.tv_sec) + (left.tv_nsec > 0 ? 1 : 0);  // as after a signal
}

}  // extern "C"
