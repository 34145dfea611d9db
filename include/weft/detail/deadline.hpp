// Turning user durations into steady_clock deadlines, refusing the ones that make no sense.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace weft::detail {

// now + d, rounded up so a sleep never ends early. Throws std::invalid_argument for a
// negative (or NaN) duration and std::out_of_range when the deadline would overflow the
// clock; `who` names the API in the message.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d,
                                                     const char* who) {
  using namespace std::chrono;
  if (!(d >= d.zero())) {
    throw std::invalid_argument(std::string(who) + ": negative duration");
  }
  const auto now = steady_clock::now();
  // Compared in floating point so the check itself cannot overflow; a margin of a second
  // keeps the rounding of that comparison on the safe side.
  const duration<long double> room = steady_clock::time_point::max() - now - seconds(1);
  if (duration<long double>(d) > room) {
    throw std::out_of_range(std::string(who) + ": duration too large for the clock");
  }
  return now + ceil<steady_clock::duration>(d);
}

// A deadline on another clock, mapped onto steady_clock (with the same checks on the
// distance from now).
template <class Clock, class Duration>
std::chrono::steady_clock::time_point to_steady(std::chrono::time_point<Clock, Duration> t,
                                                const char* who) {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(t);
  } else {
    auto left = t - Clock::now();
    if (left < left.zero()) return std::chrono::steady_clock::now();
    return deadline_after(left, who);
  }
}

}  // namespace weft::detail
