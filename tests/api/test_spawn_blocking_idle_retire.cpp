// spawn_blocking threads that stay idle retire, and the pool grows again when work comes
// back. CTest sets WEFT_BLOCKING_IDLE_MS (an internal knob; the default is 10 s) so that
// retiring fits in a test; threads are counted in /proc/self/task.
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::eventually;
using weft_test::Gate;
using weft_test::ms;

namespace {

// Threads of this process now; -1 if /proc cannot be read.
long threads_now() {
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return ec ? -1 : n;
}

std::chrono::milliseconds idle_period() {
  const char* text = std::getenv("WEFT_BLOCKING_IDLE_MS");
  REQUIRE(text != nullptr);  // set by CTest
  return std::chrono::milliseconds(std::stol(text));
}

constexpr int kTasks = 4;

}  // namespace

TEST_CASE("idle pool threads retire after the idle period, and the pool grows again") {
  const auto idle = idle_period();
  weft::run([] {});  // the workers exist; the pool has no thread yet
  const long base = threads_now();
  REQUIRE(base > 0);

  Gate first;
  std::vector<weft::Unfuture<void>> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(weft::spawn_blocking([&first] { first.pass(); }));
  REQUIRE(first.wait_arrived(kTasks));
  CHECK(threads_now() == base + kTasks);

  first.open();
  const auto released = Clock::now();
  for (auto& t : tasks) t.get();
  tasks.clear();

  // Not before the idle period: checked only while well inside it, so a stalled test
  // thread cannot make this fail.
  std::this_thread::sleep_for(idle / 4);
  if (Clock::now() - released < idle / 2) CHECK(threads_now() == base + kTasks);

  CHECK(eventually([&] { return threads_now() == base; }, idle * 20 + 10s));
  const auto retired_after = Clock::now() - released;
  MESSAGE("idle period " << idle.count() << " ms; all retired after " << ms(retired_after) << " ms");
  CHECK(retired_after >= idle);

  Gate second;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(weft::spawn_blocking([&second] { second.pass(); }));
  REQUIRE(second.wait_arrived(kTasks));
  CHECK(threads_now() == base + kTasks);
  second.open();
  for (auto& t : tasks) t.get();
}
