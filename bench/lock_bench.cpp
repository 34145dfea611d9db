// 11. The lock shims (issue 14): std::mutex and std::condition_variable, which reach
// libweft's pthread_mutex_* and pthread_cond_*, against what they replace, in one process
// so each ratio comes from one run (weft_lock_bench; bench/run.sh runs it on one CPU):
//
//   a. uncontended lock+unlock of a std::mutex on a plain thread, against libc's
//      pthread_mutex_lock / pthread_mutex_unlock called directly on a pthread_mutex_t
//   b. the same in a weft fiber, against libc's functions called directly in the fiber
//   c. hand-off: two fibers on one worker take a std::mutex, yield holding it (so the
//      other finds it taken and parks), release it; against weft::Mutex in the same shape
//      (sync_bench.cpp's BM_weft_mutex_handoff, copied so both run here)
//   d. ping-pong: two fibers on one worker pass a turn through a std::mutex and a
//      std::condition_variable, each waiting for its turn; against weft::Mutex and
//      weft::ConditionVariable in the same shape. One iteration is two hops.
//
// "libc's" functions are libc.so.6's own (libc_direct.hpp).
//
// LOCK_BENCH_ITERATIONS=N runs each benchmark for exactly N iterations (one repetition),
// for instruction counts: callgrind's totals for two values of N differ by the cost of
// the difference in iterations, whatever the process does around them.
#include "common.hpp"
#include "libc_direct.hpp"

#include <weft/sync.hpp>

#include <pthread.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {

using weft_bench::report_per;

using MutexFn = int (*)(pthread_mutex_t*);

struct Libc {
  MutexFn lock = nullptr;
  MutexFn unlock = nullptr;
};

// libc's own pthread_mutex_lock and _unlock.
const Libc& libc() {
  static const Libc fns = [] {
    Libc l;
    l.lock = weft_bench::libc_direct<MutexFn>("pthread_mutex_lock", "lock_bench");
    l.unlock = weft_bench::libc_direct<MutexFn>("pthread_mutex_unlock", "lock_bench");
    weft_bench::note_where_resolves("pthread_mutex_lock");
    const char* hooks = std::getenv("WEFT_HOOK_LOCKS");
    benchmark::AddCustomContext("WEFT_HOOK_LOCKS", hooks ? hooks : "(unset: on)");
    return l;
  }();
  return fns;
}

// Looked up before main(), so that what it adds to the context is printed with it.
[[maybe_unused]] const Libc& libc_at_start = libc();

// Every benchmark's Setup: resolves libc's functions and starts weft's runtime, so every
// benchmark runs in the same, multi-threaded process (glibc skips the locked instruction
// while a process has one thread).
void setup(const benchmark::State&) {
  static const bool done = [] {
    libc();
    weft::run([] {});
    return true;
  }();
  (void)done;
}

void fixed_iterations(benchmark::internal::Benchmark* b) { weft_bench::iterations_from_env(b, "LOCK_BENCH_ITERATIONS"); }

// --- a, b. uncontended --------------------------------------------------------------

void std_mutex_loop(benchmark::State& state) {
  std::mutex mu;
  long counter = 0;
  for (auto _ : state) {
    mu.lock();
    ++counter;
    mu.unlock();
  }
  benchmark::DoNotOptimize(counter);
  report_per(state, "ns_per_lock_unlock", 1);
}

void libc_mutex_loop(benchmark::State& state) {
  const Libc& c = libc();
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  long counter = 0;
  for (auto _ : state) {
    c.lock(&mu);
    ++counter;
    c.unlock(&mu);
  }
  benchmark::DoNotOptimize(counter);
  report_per(state, "ns_per_lock_unlock", 1);
}

void BM_hooked_mutex_thread(benchmark::State& state) { std_mutex_loop(state); }
BENCHMARK(BM_hooked_mutex_thread)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_mutex_thread(benchmark::State& state) { libc_mutex_loop(state); }
BENCHMARK(BM_libc_mutex_thread)->Setup(setup)->Apply(fixed_iterations);

void BM_hooked_mutex_fiber(benchmark::State& state) { weft_bench::in_weft_fiber(state, std_mutex_loop); }
BENCHMARK(BM_hooked_mutex_fiber)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_mutex_fiber(benchmark::State& state) { weft_bench::in_weft_fiber(state, libc_mutex_loop); }
BENCHMARK(BM_libc_mutex_fiber)->Setup(setup)->Apply(fixed_iterations);

// --- c. hand-off between two fibers on one worker -----------------------------------
// One iteration is two hand-offs: each fiber takes the mutex once.

// A mutex that does not hand itself to a woken waiter can starve the benchmark's fiber for
// ever here: the partner releases, wakes it, and takes the mutex again before it runs (no
// preemption on a worker). The partner gives up after kStarved rounds in a row without
// the benchmark's fiber getting it, which then reports the livelock as an error.
constexpr long kStarved = 100'000;

template <class Mutex>
void handoff(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    Mutex mu;
    bool done = false;     // both fibers run on this worker's thread
    bool starved = false;  // set by the partner, which then stops taking the mutex
    long taken = 0;        // by the benchmark's fiber
    auto partner = weft::spawn([&] {
      long seen = -1, rounds = 0;
      while (!done) {
        if (taken != seen) {
          seen = taken;
          rounds = 0;
        } else if (++rounds == kStarved) {
          starved = true;
          while (!done) weft::this_fiber::yield();
          return;
        }
        mu.lock();
        weft::this_fiber::yield();
        mu.unlock();
      }
    });
    weft::this_fiber::yield();  // the partner holds the mutex first
    for (auto _ : st) {
      mu.lock();
      ++taken;
      if (starved) {
        mu.unlock();
        st.SkipWithError("livelock: the partner fiber took the mutex back before this fiber ran, 100000 times in a row");
        break;
      }
      weft::this_fiber::yield();
      mu.unlock();
    }
    done = true;
    partner.get();
  });
  report_per(state, "ns_per_handoff", 2);
}

void BM_hooked_mutex_handoff(benchmark::State& state) { handoff<std::mutex>(state); }
BENCHMARK(BM_hooked_mutex_handoff)->Setup(setup)->Apply(fixed_iterations);
void BM_weft_mutex_handoff(benchmark::State& state) { handoff<weft::Mutex>(state); }
BENCHMARK(BM_weft_mutex_handoff)->Setup(setup)->Apply(fixed_iterations);

// --- d. condition variable ping-pong between two fibers on one worker ---------------
// A turn goes 0 -> 1 (the partner's) -> 0; each side waits for its turn, flips it and
// notifies. One iteration is two hops.

template <class Mutex, class CondVar>
void cv_pingpong(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    Mutex mu;
    CondVar cv;
    int turn = 0;  // guarded by mu; 2: stop
    auto partner = weft::spawn([&] {
      std::unique_lock<Mutex> lk(mu);
      for (;;) {
        cv.wait(lk, [&] { return turn != 0; });
        if (turn == 2) return;
        turn = 0;
        cv.notify_one();
      }
    });
    for (auto _ : st) {
      std::unique_lock<Mutex> lk(mu);
      turn = 1;
      cv.notify_one();
      cv.wait(lk, [&] { return turn == 0; });
    }
    {
      std::lock_guard<Mutex> lk(mu);
      turn = 2;
    }
    cv.notify_one();
    partner.get();
  });
  report_per(state, "ns_per_hop", 2);
}

void BM_hooked_cv_pingpong(benchmark::State& state) { cv_pingpong<std::mutex, std::condition_variable>(state); }
BENCHMARK(BM_hooked_cv_pingpong)->Setup(setup)->Apply(fixed_iterations);
void BM_weft_cv_pingpong(benchmark::State& state) { cv_pingpong<weft::Mutex, weft::ConditionVariable>(state); }
BENCHMARK(BM_weft_cv_pingpong)->Setup(setup)->Apply(fixed_iterations);

}  // namespace
