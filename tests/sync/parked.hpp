// Waiting, from a plain thread, until fibers are parked on a channel: so a test can close
// or send knowing the operation it means to test is really parked, not about to start.
#pragma once

#include <weft/fibers.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <thread>

namespace weft_test {

// How many fibers named `name` are parked on a channel now.
inline std::size_t parked_on_channel(const std::string& name) {
  std::size_t n = 0;
  for (const auto& f : weft::list_fibers()) {
    if (f.name == name && f.state == weft::FiberState::parked && f.wait == weft::WaitKind::channel) ++n;
  }
  return n;
}

// Polls until `n` fibers named `name` are parked on a channel; false after 10 s.
inline bool wait_parked_on_channel(const std::string& name, std::size_t n) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (parked_on_channel(name) < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A plain thread cannot be observed parked: give it time to get there. A thread that has
// not parked yet when the test acts would still pass through the same code, just without
// waiting, so this only weakens what the test proves, never makes it fail wrongly.
inline void let_threads_park() { std::this_thread::sleep_for(std::chrono::milliseconds(50 * WEFT_TEST_SLACK)); }

}  // namespace weft_test
