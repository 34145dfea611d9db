// The sleeps. In a fiber they become timers on the worker (so std::this_thread::sleep_for
// in a fiber lets the others run); on a plain thread they are libc's. A fiber's sleep is
// never cut short by a signal, as in gevent and Go, so it never reports EINTR.
#include "fiber_sleep.hpp"
#include "io_gate.hpp"

using weft::shim::fiber_sleep_until;
using weft::shim::in_fiber;

namespace {

// CLOCK_MONOTONIC now minus `clock` now: what turns an absolute time on `clock` into a
// monotonic one.
std::int64_t clock_offset_ns(clockid_t clock) noexcept {
  timespec other{}, mono{};
  ::clock_gettime(clock, &other);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<std::int64_t>(mono.tv_sec) - other.tv_sec) * weft::shim::kNsPerSec +
         (mono.tv_nsec - other.tv_nsec);
}

// An absolute time on `clock` as a CLOCK_MONOTONIC deadline in ns: -1 (never) when it
// lies beyond 64-bit nanoseconds. A time before boot comes out negative but not -1, and
// is simply past; it must not be taken for "never".
std::int64_t monotonic_deadline(clockid_t clock, const timespec& at) noexcept {
  const std::int64_t on_clock = weft::shim::deadline_after(at, 0);
  if (on_clock < 0 || clock == CLOCK_MONOTONIC) return on_clock;
  const std::int64_t offset = clock_offset_ns(clock);
  // on_clock >= 0, so only a clock running behind CLOCK_MONOTONIC (offset > 0, a
  // realtime clock set before the boot time) can overflow.
  if (offset > 0 && on_clock > INT64_MAX - offset) return -1;
  const std::int64_t deadline = on_clock + offset;
  return deadline < 0 ? 0 : deadline;
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
