// Helpers shared by weft's benchmarks: the Boost.Fiber baseline's stack allocator, RSS,
// and running a benchmark's loop inside a weft fiber.
#pragma once

#include <weft/weft.hpp>

#include <benchmark/benchmark.h>
#include <boost/fiber/all.hpp>

#include <cstddef>
#include <cstdio>
#include <utility>

namespace weft_bench {

// Baselines get stacks of the same usable size as weft's, so neither side wins on
// stack size alone. max_size caps boost::pool's doubling growth: beyond ~64 GiB in one
// malloc the kernel's overcommit heuristic refuses it (skynet needs 1.1M stacks).
inline boost::fibers::pooled_fixedsize_stack boost_pooled_stack() {
  return boost::fibers::pooled_fixedsize_stack(weft::current_config().stack_size, 64, 1024);
}

// Resident set size of this process in KiB, from /proc/self/statm.
inline long rss_kib() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return pages_resident * 4;
}

// Runs body(state) as a weft fiber and waits for it, so the timed loop runs on a worker.
template <class Body>
void in_weft_fiber(benchmark::State& state, Body body) {
  weft::run([&] { body(state); });
}

// Reports the time of one `per_iteration`-th of an iteration as the counter `name`,
// e.g. ns per switch when one iteration is two switches.
inline void report_per(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] = benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                               benchmark::Counter::kInvert);
}

}  // namespace weft_bench
