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

// A deadline on any clock (steady_clock with another duration type included), mapped
// onto steady_clock. The distance from now is taken in floating point, so neither the
// cast nor the subtraction can overflow: a deadline already past means now, NaN throws
// std::invalid_argument, one too far for the clock std::out_of_range.
template <class Clock, class Duration>
std::chrono::steady_clock::time_point to_steady(std::chrono::time_point<Clock, Duration> t,
                                                const char* who) {
  using seconds_ld = std::chrono::duration<long double>;
  const seconds_ld at(t.time_since_epoch());
  if (at != at) throw std::invalid_argument(std::string(who) + ": deadline is not a number");
  const seconds_ld left = at - seconds_ld(Clock::now().time_since_epoch());
  if (left <= seconds_ld::zero()) return std::chrono::steady_clock::now();
  return deadline_after(left, who);
}

}  // namespace weft::detail
