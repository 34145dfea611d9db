// Sleeping a fiber to a CLOCK_MONOTONIC deadline in ns, saturating: the sleep shims and
// poll with no fds use it; the lock shims turn their absolute times into such deadlines.
#pragma once

#include "park.hpp"
#include "reactor_backend.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace weft::shim {

constexpr std::int64_t kNsPerSec = 1'000'000'000;

// now + ts in ns, or -1 (never) when that does not fit in 64 bits.
inline std::int64_t deadline_after(const timespec& ts, std::int64_t now_ns) noexcept {
  if (ts.tv_sec >= (INT64_MAX - now_ns) / kNsPerSec - 1) return -1;
  return now_ns + static_cast<std::int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// What glibc checks of an absolute time before it waits: tv_sec may be anything.
inline bool valid_timespec_nsec(const timespec& ts) noexcept { return ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec; }

inline bool valid_timespec(const timespec& ts) noexcept {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec;
}

// CLOCK_MONOTONIC now minus `clock` now: what turns an absolute time on `clock` into a
// monotonic one.
inline std::int64_t clock_offset_ns(clockid_t clock) noexcept {
  timespec other{}, mono{};
  ::clock_gettime(clock, &other);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<std::int64_t>(mono.tv_sec) - other.tv_sec) * kNsPerSec +
         (mono.tv_nsec - other.tv_nsec);
}

// An absolute time on `clock` as a CLOCK_MONOTONIC deadline in ns: -1 (never) when it
// lies beyond 64-bit nanoseconds. A time before boot comes out negative but not -1, and
// is simply past; it must not be taken for "never".
inline std::int64_t monotonic_deadline(clockid_t clock, const timespec& at) noexcept {
  const std::int64_t on_clock = deadline_after(at, 0);
  if (on_clock < 0 || clock == CLOCK_MONOTONIC) return on_clock;
  const std::int64_t offset = clock_offset_ns(clock);
  // on_clock >= 0, so only a clock running behind CLOCK_MONOTONIC (offset > 0, a
  // realtime clock set before the boot time) can overflow.
  if (offset > 0 && on_clock > INT64_MAX - offset) return -1;
  const std::int64_t deadline = on_clock + offset;
  return deadline < 0 ? 0 : deadline;
}

// An absolute time of a lock's timed wait as monotonic_deadline() gives it, except that a
// time before the clock's epoch is simply past (0), never mistaken for "never" (-1).
inline std::int64_t lock_deadline(clockid_t clock, const timespec& at) noexcept {
  if (at.tv_sec < 0) return 0;
  const std::int64_t deadline = monotonic_deadline(clock, at);
  return deadline < -1 ? 0 : deadline;
}

// In a fiber: sleeps until deadline_ns (-1: forever), whatever happens: the naps of the
// lock shims, which a cancel must not cut short (cancel.hpp).
inline void fiber_sleep_until(std::int64_t deadline_ns) noexcept {
  rt::WaitReason why{rt::WaitKind::timer};
  why.cancellable = false;
  (void)rt::park_until(rt::deadline_from_ns(deadline_ns), why);
}

// In a fiber: sleeps until deadline_ns (-1: forever), or until the fiber is cancelled or
// its Timeout passes: then returns false, with rt::cancel_errno() saying which.
[[nodiscard]] inline bool cancellable_sleep_until(std::int64_t deadline_ns) noexcept {
  return rt::park_until(rt::deadline_from_ns(deadline_ns), {rt::WaitKind::timer}) != rt::ParkResult::cancelled;
}

// The sleeps of a fiber polling a lock whose release nobody announces to weft (one a
// process-shared lock, which other processes release): 50 µs first, doubling up to 4 ms,
// so a long wait costs little CPU and a short one little latency.
class PollNaps {
 public:
  // Sleeps the next nap, cut short at deadline_ns (-1: none); false, without sleeping, once
  // the deadline has passed.
  bool nap(std::int64_t deadline_ns) noexcept {
    const std::int64_t now = rt::monotonic_ns();
    if (deadline_ns != -1 && now >= deadline_ns) return false;
    const std::int64_t wake = deadline_ns == -1 ? now + nap_ns_ : std::min(now + nap_ns_, deadline_ns);
    fiber_sleep_until(wake);
    nap_ns_ = std::min<std::int64_t>(nap_ns_ * 2, 4'000'000);
    return true;
  }

 private:
  std::int64_t nap_ns_ = 50'000;
};

}  // namespace weft::shim
