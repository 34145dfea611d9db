// Helpers shared by weft's benchmarks: the Boost.Fiber baseline's stack allocator, RSS,
// running a benchmark's loop inside a weft fiber, a pipe, a fixed iteration count.
#pragma once

#include <weft/weft.hpp>

#include <benchmark/benchmark.h>
#include <boost/fiber/all.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
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

// Lets a callgrind run (bench/*_callgrind.py) fix the iteration count in the variable
// `env`; unset, Google Benchmark chooses as usual.
inline void iterations_from_env(benchmark::internal::Benchmark* b, const char* env) {
  if (const char* n = std::getenv(env)) b->Iterations(std::strtoll(n, nullptr, 10))->Repetitions(1);
}

// A pipe for the benchmarks that read and write; one that cannot be made skips the
// benchmark (fd[0] stays -1).
struct Pipe {
  int fd[2] = {-1, -1};
  explicit Pipe(benchmark::State& state) {
    if (::pipe(fd) != 0) state.SkipWithError("pipe failed");
  }
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

}  // namespace weft_bench
