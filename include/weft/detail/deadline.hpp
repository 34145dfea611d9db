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

// A deadline on any clock, mapped onto steady_clock.
//  - steady_clock's own time_point is taken exactly (time_point::max() waits forever);
//  - steady_clock with another duration type is converted as an absolute time, so two
//    deadlines keep their order;
//  - other clocks go through their distance from now.
// Conversions happen in floating point, so nothing can overflow: NaN throws
// std::invalid_argument, a deadline beyond steady_clock's range std::out_of_range, and
// one already past means now.
template <class Clock, class Duration>
std::chrono::steady_clock::time_point to_steady(std::chrono::time_point<Clock, Duration> t,
                                                const char* who) {
  using std::chrono::steady_clock;
  using seconds_ld = std::chrono::duration<long double>;
  if constexpr (std::is_same_v<Clock, steady_clock> &&
                std::is_same_v<Duration, steady_clock::duration>) {
    return t;
  } else {
    const seconds_ld at(t.time_since_epoch());
    if (at != at) throw std::invalid_argument(std::string(who) + ": deadline is not a number");
    if constexpr (std::is_same_v<Clock, steady_clock>) {
      const seconds_ld margin = std::chrono::seconds(1);
      if (at > seconds_ld(steady_clock::duration::max()) - margin) {
        throw std::out_of_range(std::string(who) + ": deadline beyond the clock's range");
      }
      if (at < seconds_ld(steady_clock::duration::min()) + margin) return steady_clock::now();
      return steady_clock::time_point(std::chrono::ceil<steady_clock::duration>(at));
    } else {
      const seconds_ld left = at - seconds_ld(Clock::now().time_since_epoch());
      if (left <= seconds_ld::zero()) return steady_clock::now();
      return deadline_after(left, who);
    }
  }
}

}  // namespace weft::detail
