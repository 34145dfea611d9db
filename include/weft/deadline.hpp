// A point in time after which a blocking call gives up: what every weft::net operation
// takes as its last, optional argument.
//
//   stream.read(buf);                      // no deadline: waits as long as it takes
//   stream.read(buf, 5s);                  // a timeout, counted from this call
//   stream.read(buf, deadline);            // an absolute time, shared by several calls
//
// A duration is turned into a deadline when the Deadline is made, so one Deadline passed
// to a sequence of calls bounds the whole sequence. As in Go, a deadline already passed
// (zero or negative timeout, a time in the past) lets an operation finish only if it can
// without waiting, and one too far for the clock is no deadline.
#pragma once

#include <weft/detail/deadline.hpp>

#include <chrono>
#include <cstdint>

namespace weft {

class Deadline {
 public:
  // No deadline.
  constexpr Deadline() noexcept = default;
  // Now + d: zero or negative means "do not wait", too large for the clock means none.
  // Throws std::invalid_argument only for NaN.
  template <class Rep, class Period>
  Deadline(std::chrono::duration<Rep, Period> d)  // NOLINT: implicit on purpose
      : at_(detail::deadline_after(d, "weft::Deadline")) {}
  // An absolute time on any clock (mapped onto steady_clock), read the same way.
  template <class Clock, class Duration>
  Deadline(std::chrono::time_point<Clock, Duration> t)  // NOLINT: implicit on purpose
      : at_(detail::to_steady(t, "weft::Deadline")) {}

  static constexpr Deadline none() noexcept { return Deadline(); }

  bool is_none() const noexcept { return at_ == std::chrono::steady_clock::time_point::max(); }
  std::chrono::steady_clock::time_point time() const noexcept { return at_; }
  // CLOCK_MONOTONIC nanoseconds (steady_clock's epoch on Linux), -1 for none. A time
  // before the epoch is 0, long past, never a negative number that reads as "none".
  std::int64_t monotonic_ns() const noexcept {
    if (is_none()) return -1;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at_.time_since_epoch()).count();
    return ns < 0 ? 0 : ns;
  }
  bool passed() const noexcept { return !is_none() && std::chrono::steady_clock::now() >= at_; }

  // The earlier of two deadlines.
  friend Deadline earliest(Deadline a, Deadline b) noexcept { return a.at_ <= b.at_ ? a : b; }

 private:
  std::chrono::steady_clock::time_point at_ = std::chrono::steady_clock::time_point::max();
};

}  // namespace weft
