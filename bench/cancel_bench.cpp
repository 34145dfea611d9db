// 13. Stopping fibers (issue 15; weft_cancel): what cancellation costs where it does
// nothing, and how fast it reaches a blocked call where it does.
//
//   a. entering and leaving a weft::Timeout that does not fire, in a fiber (bar: 100 ns);
//      beside the clock read it makes (steady_clock::now) and a Shield.
//   b. cancel -> blocked call returns: a fiber parked in read() on an empty pipe, and
//      another fiber on the same worker that either writes a byte into the pipe (the
//      baseline: a blocked read -> wake -> resume hop) or calls Unfuture::cancel() on it
//      (read then returns -1/ECANCELED). Timed from just before the write or the cancel to
//      just after read() returns in the parked fiber (manual time), so the rest of each
//      iteration (spawning the reader, waiting for it to park, joining it) is the same in
//      both and not counted. Bar: cancel <= 2x write.
//   c. the same with the waker elsewhere, which goes through Worker::post_cancel and the
//      reader's worker's main context: a plain thread (BM_*_from_thread), and a fiber on
//      the other of two workers (BM_*_cross_worker; needs --weft_threads=2, skipped
//      otherwise). bench/run.sh runs these on all CPUs. No bar.
//
// CANCEL_BENCH_ITERATIONS=N runs each benchmark for exactly N iterations (one
// repetition), for instruction counts as in lock_bench.cpp.
#include "common.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

namespace {

using namespace std::chrono_literals;
using weft_bench::report_per;

void fixed_iterations(benchmark::internal::Benchmark* b) { weft_bench::iterations_from_env(b, "CANCEL_BENCH_ITERATIONS"); }

// Starts weft's runtime before the first benchmark, so none of them pays for it.
void setup(const benchmark::State&) {
  static const bool done = [] {
    weft::run([] {});
    return true;
  }();
  (void)done;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- a. scopes that do not fire ---------------------------------------------------------

void BM_timeout_scope(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    long n = 0;
    for (auto _ : st) {
      weft::Timeout t(1h);
      benchmark::DoNotOptimize(++n);
    }
    if (weft::this_fiber::cancelled()) st.SkipWithError("the Timeout fired");
  });
  report_per(state, "ns_per_scope", 1);
}
BENCHMARK(BM_timeout_scope)->Setup(setup)->Apply(fixed_iterations);

// The clock read a Timeout of a duration makes: the floor of its cost.
void BM_clock_read(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
  });
  report_per(state, "ns_per_scope", 1);
}
BENCHMARK(BM_clock_read)->Setup(setup)->Apply(fixed_iterations);

void BM_shield_scope(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    long n = 0;
    for (auto _ : st) {
      weft::Shield s;
      benchmark::DoNotOptimize(++n);
    }
  });
  report_per(state, "ns_per_scope", 1);
}
BENCHMARK(BM_shield_scope)->Setup(setup)->Apply(fixed_iterations);

// --- b, c. waking a fiber blocked in read() ---------------------------------------------

using weft_bench::Pipe;

enum class Wake { write, cancel };
enum class From { same_worker, other_worker, thread };

// The worker a started fiber runs on, or -1 if it is not listed (yet).
int worker_of(std::uint64_t id) {
  for (const weft::FiberInfo& f : weft::list_fibers()) {
    if (f.id == id) return static_cast<int>(f.worker);
  }
  return -1;
}

// One reader fiber's run: it announces itself, then blocks in read() on the empty pipe.
struct Reader {
  std::atomic<bool> about_to_read{false};
  std::atomic<std::int64_t> returned_ns{0};  // steady_clock, just after read() returned
  std::uint64_t id = 0;
  int worker = -1;  // looked up only if wanted: list_fibers() is not cheap
  ssize_t result = 0;
  int error = 0;

  void run(int fd, bool want_worker) {
    id = weft::this_fiber::id();
    if (want_worker) worker = worker_of(id);
    about_to_read.store(true, std::memory_order_release);
    char c;
    result = ::read(fd, &c, 1);
    error = errno;
    returned_ns.store(now_ns(), std::memory_order_release);
  }
};

bool is_parked(std::uint64_t id) {
  for (const weft::FiberInfo& f : weft::list_fibers()) {
    if (f.id == id) return f.state == weft::FiberState::parked;
  }
  return false;
}

// Waits, by yielding the fiber or the thread, until r has announced itself and (when it
// runs elsewhere) is parked in its read.
void wait_until_parked(Reader& r, bool elsewhere) {
  auto pause = [] {
    if (weft::in_fiber()) {
      weft::this_fiber::yield();
    } else {
      std::this_thread::yield();
    }
  };
  while (!r.about_to_read.load(std::memory_order_acquire)) pause();
  // On the same worker, running again means r has left the CPU, and it can only have
  // parked in its read.
  if (elsewhere) {
    while (!is_parked(r.id)) pause();
  }
}

// Wakes the parked reader with `how`; returns steady_clock's time just before.
std::int64_t wake(Wake how, int write_fd, const weft::Unfuture<void>& reader) {
  const std::int64_t t0 = now_ns();
  if (how == Wake::write) {
    const char c = 'x';
    if (::write(write_fd, &c, 1) != 1) return -1;
  } else {
    if (!reader.cancel()) return -1;
  }
  return t0;
}

// Whether the reader's read() ended as `how` should have made it end.
bool ended_as(Wake how, const Reader& r) {
  return how == Wake::write ? r.result == 1 : r.result == -1 && r.error == ECANCELED;
}

// One iteration: a fresh reader (a cancel is sticky), parked, then woken from `from`.
// Returns the ns from the wake to the read's return, or -1 with an error set in `st`.
std::int64_t one_hop(benchmark::State& st, Wake how, From from, const Pipe& p, unsigned* same_worker_runs) {
  Reader r;
  const int rfd = p.fd[0], wfd = p.fd[1];
  const bool want_worker = from == From::other_worker;
  auto reader = weft::spawn([&r, rfd, want_worker] { r.run(rfd, want_worker); });
  std::int64_t t0 = -1;
  switch (from) {
    case From::same_worker:
      wait_until_parked(r, false);
      t0 = wake(how, wfd, reader);
      break;
    case From::thread:
      wait_until_parked(r, true);
      t0 = wake(how, wfd, reader);
      break;
    case From::other_worker: {
      // Plain threads spawn round robin over the workers: the reader and the waker
      // spawned one after the other land on different ones (checked below).
      std::atomic<int> waker_worker{-1};
      auto waker = weft::spawn([&] {
        waker_worker.store(worker_of(weft::this_fiber::id()), std::memory_order_release);
        wait_until_parked(r, true);
        t0 = wake(how, wfd, reader);
      });
      waker.get();
      // Both on one worker after all (something else spawned from a thread meanwhile):
      // the hop still counts, and the counter says how often it happened.
      if (waker_worker.load() == r.worker) ++*same_worker_runs;
      break;
    }
  }
  reader.get();
  if (t0 < 0) {
    st.SkipWithError("write or cancel failed");
    return -1;
  }
  if (!ended_as(how, r)) {
    st.SkipWithError(how == Wake::write ? "read did not return the byte" : "read did not fail with ECANCELED");
    return -1;
  }
  return r.returned_ns.load(std::memory_order_acquire) - t0;
}

void hop_loop(benchmark::State& st, Wake how, From from) {
  Pipe p(st);
  if (p.fd[0] < 0) return;
  unsigned same_worker_runs = 0;
  for (auto _ : st) {
    const std::int64_t ns = one_hop(st, how, from, p, &same_worker_runs);
    if (ns < 0) break;
    st.SetIterationTime(static_cast<double>(ns) * 1e-9);
  }
  if (same_worker_runs != 0) st.counters["same_worker_runs"] = same_worker_runs;
}

void in_fiber_hops(benchmark::State& state, Wake how) {
  weft_bench::in_weft_fiber(state, [how](benchmark::State& st) { hop_loop(st, how, From::same_worker); });
  report_per(state, "ns_per_hop", 1);
}

void from_outside_hops(benchmark::State& state, Wake how, From from) {
  if (from == From::other_worker && weft::current_config().threads < 2) {
    state.SkipWithError("needs --weft_threads=2");
    return;
  }
  hop_loop(state, how, from);
  report_per(state, "ns_per_hop", 1);
}

void BM_write_wakes_read(benchmark::State& state) { in_fiber_hops(state, Wake::write); }
BENCHMARK(BM_write_wakes_read)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();
void BM_cancel_wakes_read(benchmark::State& state) { in_fiber_hops(state, Wake::cancel); }
BENCHMARK(BM_cancel_wakes_read)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();

void BM_write_wakes_read_from_thread(benchmark::State& state) {
  from_outside_hops(state, Wake::write, From::thread);
}
BENCHMARK(BM_write_wakes_read_from_thread)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();
void BM_cancel_wakes_read_from_thread(benchmark::State& state) {
  from_outside_hops(state, Wake::cancel, From::thread);
}
BENCHMARK(BM_cancel_wakes_read_from_thread)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();

void BM_write_wakes_read_cross_worker(benchmark::State& state) {
  from_outside_hops(state, Wake::write, From::other_worker);
}
BENCHMARK(BM_write_wakes_read_cross_worker)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();
void BM_cancel_wakes_read_cross_worker(benchmark::State& state) {
  from_outside_hops(state, Wake::cancel, From::other_worker);
}
BENCHMARK(BM_cancel_wakes_read_cross_worker)->Setup(setup)->Apply(fixed_iterations)->UseManualTime();

}  // namespace
