// The ambient runtime: the worker threads and the blocking pool, started on first use
// with the configuration in force then (weft::configure, or WEFT_* environment variables).
// It is never torn down; see README.md, "Shutdown", for what happens at process exit, and
// fork.cpp for what a forked child does with it.
#pragma once

#include "blocking_pool.hpp"
#include "dump_signal.hpp"
#include "monitor.hpp"
#include "worker.hpp"

#include <weft/config.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace weft::rt {

// Config::hook_locks as the lock shims read it (shims/lock_gate.hpp): set by configure()
// and by the runtime's start; before either, read from the environment on first use.
constexpr unsigned char kLockHooksUnknown = 0, kLockHooksOn = 1, kLockHooksOff = 2;
extern std::atomic<unsigned char> lock_hooks;
bool lock_hooks_on_slow() noexcept;
inline bool lock_hooks_on() noexcept {
  const unsigned char v = lock_hooks.load(std::memory_order_relaxed);
  return v == kLockHooksUnknown ? lock_hooks_on_slow() : v == kLockHooksOn;
}

class Runtime {
 public:
  // The running runtime, starting it if needed. Throws std::invalid_argument for a bad
  // WEFT_* variable, std::system_error if threads or reactors cannot be created.
  static Runtime& get();
  // The running runtime, or null if nothing has started it (never starts one).
  static Runtime* if_started() noexcept;

  explicit Runtime(const Config& resolved);

  // A worker for work arriving from outside any worker (round robin).
  Worker& next_worker() noexcept;
  Worker& worker(unsigned index) noexcept { return *workers_[index]; }
  unsigned workers() const noexcept { return static_cast<unsigned>(workers_.size()); }

  // More than one worker, so fibers that have not started are worth making stealable.
  bool can_steal() const noexcept { return workers_.size() > 1; }
  // A fiber that has never run, taken from another worker's fresh queue; null if none.
  boost::fibers::context* steal_fresh(Worker& thief) noexcept;
  // `from` has fibers waiting to start: wake one sleeping worker to steal them.
  void wake_a_thief(Worker& from) noexcept;
  void note_asleep(int delta) noexcept { asleep_.fetch_add(delta, std::memory_order_relaxed); }

  BlockingPool& blocking() noexcept { return blocking_; }
  // Name lookups' own pool (runtime/resolver.hpp).
  BlockingPool& resolver() noexcept { return resolver_; }
  const Config& config() const noexcept { return config_; }

 private:
  const Config config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<unsigned> next_{0};
  std::atomic<int> asleep_{0};
  BlockingPool blocking_;
  BlockingPool resolver_;
  std::unique_ptr<Monitor> monitor_;  // null unless blocking_warn_ms is set
  std::unique_ptr<DumpSignal> dump_signal_;  // null unless dump_signal is set
};

// Where place_fiber starts a new fiber.
struct Placement {
  enum class Kind : std::uint8_t { here, spread };
  Kind kind;
  unsigned ticket;

  // On the calling worker, newest first and stealable until it starts (cheapest); from
  // outside the workers, on the next one round robin. What spawn() does.
  static Placement here() noexcept { return {Kind::here, 0}; }
  // On worker `ticket % workers`, for a caller that deals its fibers out itself, one
  // ticket each (serve()'s connections), so that they spread evenly whatever else runs.
  // Started directly if that is the calling worker, first in first out; else posted to it.
  static Placement spread(unsigned ticket) noexcept { return {Kind::spread, ticket}; }
};

// Starts `task` as a new fiber where `where` says, starting the runtime if needed: the one
// way in for the layers above (net, process) and for spawn. Throws what starting the
// runtime or the fiber throws (std::bad_alloc, std::system_error).
void place_fiber(Worker::TaskPtr task, Placement where);

// fork(), in the child: forget the parent's runtime (its threads do not exist here), so
// that the next use starts a new one with the same configuration (fork.cpp).
void forget_runtime_in_child() noexcept;

}  // namespace weft::rt
