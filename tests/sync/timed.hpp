// What the timed channel and select tests share: the timeout they ask for, how late it may
// end on this shared machine, and running a case once on a fiber and once on a plain thread.
#pragma once

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

namespace weft_test {

inline constexpr auto wait_for = std::chrono::milliseconds(60);
inline constexpr auto late_allowed = std::chrono::milliseconds(200) * WEFT_TEST_SLACK;

// Runs f on a fiber and on a plain thread, as two doctest subcases.
template <class F>
void in_fiber_and_thread(F f) {
  SUBCASE("fiber") { weft::run(f); }
  SUBCASE("plain thread") { std::thread(f).join(); }
}

}  // namespace weft_test
