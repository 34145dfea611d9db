// Absolute deadlines for the timed pthread and semaphore calls, which take a timespec on
// a given clock.
#pragma once

#include <time.h>

namespace weft_test {

// `ms` milliseconds from now on `clock`.
inline timespec in_ms(clockid_t clock, long ms) {
  timespec t{};
  clock_gettime(clock, &t);
  t.tv_nsec += ms * 1'000'000;
  t.tv_sec += t.tv_nsec / 1'000'000'000;
  t.tv_nsec %= 1'000'000'000;
  return t;
}

}  // namespace weft_test
