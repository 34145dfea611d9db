// The sleeps. In a fiber they become timers on the worker (so std::this_thread::sleep_for
// in a fiber lets the others run); on a plain thread they are libc's. A fiber's sleep is
// never cut short by a signal, as in gevent and Go, so it never reports EINTR.
#include "fiber_sleep.hpp"
#include "io_gate.hpp"

using weft::shim::fiber_sleep_until;
using weft::shim::monotonic_deadline;
using weft::shim::in_fiber;

namespace {

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
  fiber_sleep_until(weft::shim::deadline_after(*req, weft::rt::monotonic_ns()));
  return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
  if (!in_fiber() || req == nullptr || !sleepable_clock(clock)) {
    return WEFT_REAL(clock_nanosleep)(clock, flags, req, rem);
  }
  if (!weft::shim::valid_timespec(*req)) return EINVAL;
  const std::int64_t now = weft::rt::monotonic_ns();
  if ((flags & TIMER_ABSTIME) == 0) {
    fiber_sleep_until(weft::shim::deadline_after(*req, now));
    return 0;
  }
  const std::int64_t deadline = monotonic_deadline(clock, *req);
  if (deadline >= 0 && deadline <= now) return 0;  // already past: no yield, as libc
  fiber_sleep_until(deadline);
  return 0;
}

int usleep(useconds_t usec) {
  if (!in_fiber()) return WEFT_REAL(usleep)(usec);
  fiber_sleep_until(weft::rt::monotonic_ns() + static_cast<std::int64_t>(usec) * 1000);
  return 0;
}

unsigned sleep(unsigned seconds) {
  if (!in_fiber()) return WEFT_REAL(sleep)(seconds);
  fiber_sleep_until(weft::rt::monotonic_ns() + static_cast<std::int64_t>(seconds) * weft::shim::kNsPerSec);
  return 0;
}

}  // extern "C"
