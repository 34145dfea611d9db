// Sleeping a fiber to a CLOCK_MONOTONIC deadline in ns, saturating: the sleep shims and
// poll with no fds use it.
#pragma once

#include "park.hpp"

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

inline bool valid_timespec(const timespec& ts) noexcept {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec;
}

// In a fiber: sleeps until deadline_ns (-1: forever).
inline void fiber_sleep_until(std::int64_t deadline_ns) noexcept {
  (void)rt::park_until(rt::deadline_from_ns(deadline_ns), {rt::WaitKind::timer});
}

}  // namespace weft::shim
