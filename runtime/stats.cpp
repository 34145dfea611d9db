// weft::stats(): counts over the walk list_fibers() makes (every worker's records), the
// workers' own counters (worker_counters.hpp), and the pools' loads, added up at read
// time so that nothing on the spawn or switch paths pays for them.
#include "runtime.hpp"
#include "stats_sources.hpp"

#include <weft/stats.hpp>

#include <atomic>
#include <cstdint>

namespace weft::rt {

namespace {
std::atomic<ProcessStatsSource> process_source{nullptr};
}  // namespace

void set_process_stats_source(ProcessStatsSource source) noexcept {
  process_source.store(source, std::memory_order_release);
}

}  // namespace weft::rt

namespace weft {

Stats stats() {
  Stats s;
  rt::Runtime* runtime = rt::Runtime::if_started();
  if (runtime == nullptr) return s;
  s.workers = runtime->workers();

  // Under each worker's list lock, as list_fibers() copies them, but counted instead.
  for (unsigned i = 0; i < s.workers; ++i) {
    runtime->worker(i).records().for_each([&](const rt::FiberRecord& r) {
      switch (r.state.load(std::memory_order_acquire)) {
        case FiberState::running: ++s.running; break;
        case FiberState::runnable: ++s.runnable; break;
        case FiberState::parked: {
          ++s.parked;
          const auto kind = static_cast<std::size_t>(r.wait.load(std::memory_order_acquire));
          if (kind < kWaitKindCount) ++s.parked_on[kind];
          break;
        }
      }
    });
  }

  // A task posted from another thread counts as spawned once posted; `created` counts it
  // again when the worker makes it a fiber, so what was taken from the inbox comes off.
  // The figures move while they are read: created is read before taken, so that a task
  // leaving an inbox meanwhile is missed rather than counted twice, and started before
  // all of them, so that `unstarted` errs high rather than below zero. A fiber made on
  // one worker may be stolen and started by another: only the sums mean something.
  std::uint64_t started = 0;
  for (unsigned i = 0; i < s.workers; ++i) started += runtime->worker(i).counters().started.get();
  std::int64_t spawned = 0;
  for (unsigned i = 0; i < s.workers; ++i) {
    rt::Worker& w = runtime->worker(i);
    const rt::WorkerCounters& c = w.counters();
    spawned += static_cast<std::int64_t>(c.created.get());
    spawned -= static_cast<std::int64_t>(c.taken_from_inbox.get());
    spawned += static_cast<std::int64_t>(w.posted());
    s.switches += w.switches();
    s.reactor_polls += c.reactor_polls.get();
  }
  s.spawned = spawned > 0 ? static_cast<std::uint64_t>(spawned) : 0;
  s.unstarted = s.spawned > started ? s.spawned - started : 0;

  s.blocking = runtime->blocking().load();
  s.resolver = runtime->resolver().load();
  if (rt::ProcessStatsSource source = rt::process_source.load(std::memory_order_acquire)) source(s.processes);
  return s;
}

}  // namespace weft
