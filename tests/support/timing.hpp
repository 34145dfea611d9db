// Measuring elapsed time in tests.
#pragma once

#include <chrono>

namespace weft_test {

using Clock = std::chrono::steady_clock;

// Whole milliseconds, for messages and tolerances.
inline long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// How long f() took.
template <class F>
Clock::duration took(F f) {
  const auto start = Clock::now();
  f();
  return Clock::now() - start;
}

}  // namespace weft_test
