// Turning user durations and time points into steady_clock deadlines the way
// std::this_thread and Go's time package read them: zero or negative means "now" (do not
// wait), and a time too far for steady_clock means time_point::max(), which every wait in
// weft takes as "as long as the clock allows". Nothing here can overflow: magnitudes are
// compared in long double (64-bit mantissa, exact for any 64-bit count) before any integer
// conversion. NaN, which is no time at all, throws std::invalid_argument naming `who`.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace weft::detail {

[[noreturn]] inline void throw_not_a_number(const char* who) {
  throw std::invalid_argument(std::string(who) + ": the time is not a number (NaN)");
}

// now + d, rounded up so a sleep never ends early.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> d,
                                                     const char* who) {
  using namespace std::chrono;
  if (d != d) throw_not_a_number(who);
  const auto now = steady_clock::now();
  if (d <= d.zero()) return now;
  // A margin of a second keeps the rounding of this comparison on the safe side.
  const duration<long double> room = steady_clock::time_point::max() - now - seconds(1);
  if (duration<long double>(d) > room) return steady_clock::time_point::max();
  return now + ceil<steady_clock::duration>(d);
}

// A deadline on any clock, mapped onto steady_clock.
//  - steady_clock's own time_point is taken exactly;
//  - steady_clock with another duration type is converted as an absolute time, so two
//    deadlines keep their order;
//  - other clocks go through their distance from now (once: a later jump of that clock
//    does not move the deadline).
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
    if (at != at) throw_not_a_number(who);
    if constexpr (std::is_same_v<Clock, steady_clock>) {
      const seconds_ld margin = std::chrono::seconds(1);
      if (at > seconds_ld(steady_clock::duration::max()) - margin) return steady_clock::time_point::max();
      if (at < seconds_ld(steady_clock::duration::min()) + margin) return steady_clock::now();
      return steady_clock::time_point(std::chrono::ceil<steady_clock::duration>(at));
    } else {
      return deadline_after(at - seconds_ld(Clock::now().time_since_epoch()), who);
    }
  }
}

}  // namespace weft::detail
