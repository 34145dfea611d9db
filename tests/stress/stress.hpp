// What every stress scenario uses: the seeded random source, the scenario registry, strict
// checks that end the process with the scenario and seed named, and bounded waits that
// turn a lost wake-up into a failure instead of a hang. See weft_stress.cpp for the runner.
#pragma once

#include <weft/weft.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifndef WEFT_TEST_SLACK
#define WEFT_TEST_SLACK 1
#endif

namespace stress {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// splitmix64: tiny, good enough for choosing parameters, and the same on every platform,
// so a seed replays the same shape anywhere.
inline std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept { return mix(state_++ * 0x2545f4914f6cdd1dull + 1); }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }
  // Uniform in [lo, hi].
  int between(int lo, int hi) noexcept {
    return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  // True with probability num/den.
  bool chance(unsigned num, unsigned den) noexcept { return below(den) < num; }
  // An independent stream for a sub-task (a tree node, a fiber): its draws do not depend
  // on how the others interleave.
  std::uint64_t child_seed(std::uint64_t k) noexcept { return mix(next() ^ mix(k)); }

 private:
  std::uint64_t state_;
};

// One run of one scenario.
struct Context {
  std::string_view scenario;
  std::uint64_t seed;
  unsigned threads;  // worker threads of the runtime this iteration runs on
  Rng rng;
};

struct Scenario {
  const char* name;
  const char* what;  // one line, for --list
  void (*run)(Context&);
};

// Scenario files register themselves: `static const stress::Registered r{{"name", ...}};`
std::vector<Scenario>& scenarios();
struct Registered {
  explicit Registered(Scenario s) { scenarios().push_back(s); }
};
const Scenario* find_scenario(std::string_view name);

// Names the iteration that runs now, so a failure from any thread or fiber can say which.
void set_current(const Context* ctx);

// Reports a failed check for the current iteration and ends the process at once (other
// fibers may be stuck; nothing is cleaned up). Callable from fibers and plain threads.
[[noreturn]] void fail(const char* file, int line, const std::string& message);

// How long anything in a scenario may take before it counts as lost: generous, because the
// machine is shared and the sanitizers are slow. The supervisor's hang limit is longer.
inline constexpr auto kBound = std::chrono::seconds(10 * WEFT_TEST_SLACK);

// "lost wake-up or hang: <what> not done after N ms" and whether it was ready just after
// the wait gave up (a wait that returns false early, or a wake-up that never comes).
std::string not_done_message(const char* what, Clock::time_point wait_began, bool ready_after);

// Waits for u within kBound (failing with "lost wake-up: <what>" otherwise), then returns
// get()'s value; an exception from get() fails the iteration unless the caller expects it.
template <class T>
void await(const weft::Unfuture<T>& u, const char* what, const char* file, int line) {
  const auto t0 = Clock::now();
  if (!u.wait_for(kBound)) fail(file, line, not_done_message(what, t0, u.ready()));
}

// Runs f on a plain thread; an exception escaping it fails the iteration.
class PlainThread {
 public:
  PlainThread() = default;
  template <class F>
  explicit PlainThread(F f) : thread_([f = std::move(f)]() mutable { guarded(f); }) {}
  PlainThread(PlainThread&&) = default;
  PlainThread& operator=(PlainThread&&) = default;
  ~PlainThread() {
    if (thread_.joinable()) thread_.join();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  template <class F>
  static void guarded(F& f) {
    try {
      f();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("exception escaped a plain thread: ") + e.what());
    } catch (...) {
      fail(__FILE__, __LINE__, "unknown exception escaped a plain thread");
    }
  }
  std::thread thread_;
};

// A small random delay: nothing, a yield (fibers only), a spin, or a short sleep. The mix
// of "at once" and "a little later" is what makes the races in the scenarios happen.
void jitter(Rng& rng);

// Spins (no system call) for about `d`.
void spin_for(std::chrono::nanoseconds d);

}  // namespace stress

// STRESS_CHECK(cond, message << parts): fails the iteration with both when cond is false.
#define STRESS_CHECK(cond, msg)                                                    \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::ostringstream stress_os_;                                               \
      stress_os_ << "check failed: " #cond ": " << msg;                            \
      ::stress::fail(__FILE__, __LINE__, stress_os_.str());                        \
    }                                                                              \
  } while (0)

// STRESS_AWAIT(u, "what"): u becomes ready within kBound, or the iteration fails.
#define STRESS_AWAIT(u, what) ::stress::await((u), (what), __FILE__, __LINE__)
