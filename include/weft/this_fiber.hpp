// Sleeping and yielding. From a fiber these suspend only that fiber; from a plain thread
// they behave as their std::this_thread counterparts.
#pragma once

#include <weft/detail/deadline.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

namespace weft {

namespace detail {
void sleep_until_steady(std::chrono::steady_clock::time_point deadline);
}

// True when called from a fiber run by weft (not from a plain thread, nor from a worker
// thread's own scheduling code).
bool in_fiber() noexcept;

// As std::this_thread's: zero, negative or past returns at once; too far for the clock
// sleeps as long as the clock allows. Only NaN throws (std::invalid_argument).
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  detail::sleep_until_steady(detail::deadline_after(d, "weft::sleep_for"));
}

template <class Clock, class Duration>
void sleep_until(std::chrono::time_point<Clock, Duration> deadline) {
  detail::sleep_until_steady(detail::to_steady(deadline, "weft::sleep_until"));
}

namespace this_fiber {
// Lets every other ready fiber on this worker run once, then continues.
void yield();
// The calling fiber's id: unique in the process, from 1, never reused. 0 on a plain thread.
std::uint64_t id() noexcept;
// The calling fiber's name (FiberOptions::name), valid until the fiber ends; empty if it
// has none, and on a plain thread.
std::string_view name() noexcept;
}  // namespace this_fiber

}  // namespace weft
