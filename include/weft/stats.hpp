// Counters for the whole runtime at a glance: how many fibers there are and what they
// wait for, how busy the workers and the pools are. Cheap enough to call every second,
// from a fiber or a plain thread; not from a signal handler (it takes locks), which is
// why the sample servers take SIGUSR1 with sigwait instead (samples/servers/server_main.hpp).
//
//   std::fputs(weft::to_string(weft::stats()).c_str(), stderr);
//
// The figures are read one by one while the runtime runs on, not as one snapshot: under
// load, fibers counted as runnable may be parked by the time the pools are read.
#pragma once

#include <weft/fibers.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace weft {

// WaitKind's values run from none to once, the last (Stats::parked_on is indexed by them).
inline constexpr std::size_t kWaitKindCount = static_cast<std::size_t>(WaitKind::once) + 1;

struct PoolStats {
  unsigned threads = 0;     // threads in the pool now (they come on demand and retire idle)
  unsigned busy = 0;        // running a task, including those waiting inside it
  std::size_t queued = 0;   // tasks waiting for a thread
  std::size_t pending = 0;  // tasks waiting for room in the queue (their submitters wait)
};

struct ProcessPoolStats {
  unsigned slots = 0;       // worker processes the pool may have (Config::process_workers)
  unsigned workers = 0;     // worker processes up now (started when first needed)
  unsigned running = 0;     // tasks a worker process runs now (or will once it has started)
  std::size_t queued = 0;   // tasks waiting for a worker, or sent to one behind another task
};

struct Stats {
  unsigned workers = 0;  // worker threads; 0: the runtime has not started

  // Fibers. `spawned` counts every fiber spawned since the runtime started; `unstarted`
  // those spawned that have not begun to run (queued for a worker). The others have
  // begun: the live ones are running, runnable or parked.
  std::uint64_t spawned = 0;
  std::uint64_t unstarted = 0;
  std::uint64_t running = 0;
  std::uint64_t runnable = 0;
  std::uint64_t parked = 0;
  std::array<std::uint64_t, kWaitKindCount> parked_on{};  // by WaitKind
  std::uint64_t live() const noexcept { return running + runnable + parked; }
  std::uint64_t parked_on_kind(WaitKind kind) const noexcept {
    return parked_on[static_cast<std::size_t>(kind)];
  }

  // Workers: fiber switches, and calls into the reactor (epoll_wait, whether it slept or
  // only collected ready fds between fibers), since the runtime started.
  std::uint64_t switches = 0;
  std::uint64_t reactor_polls = 0;

  PoolStats blocking;  // spawn_blocking's threads
  PoolStats resolver;  // the threads that run DNS lookups for fibers
  ProcessPoolStats processes;  // spawn_process's worker processes
};

// The runtime's figures now; all zero before the runtime starts (never starts it).
// Walks every fiber's record as list_fibers() does, without copying: some 30 µs per
// thousand fibers, a thirtieth of list_fibers(), during which fibers cannot start or end
// on the worker being walked.
Stats stats();

// A few lines of text, one subject per line, ending in a newline.
std::string to_string(const Stats& s);

}  // namespace weft
