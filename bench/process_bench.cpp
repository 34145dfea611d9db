// 9. spawn_process against its baselines, all measured in this one run:
//   - no-op round trip: spawn_process from a fiber, against a socketpair ping-pong between
//     two processes (the floor for any process pool), spawn_blocking, and fork per task;
//   - small-task throughput: 20,000 no-op tasks at once (batched by the pool) and one at a
//     time, against spawn_blocking and fork per task;
//   - CPU-bound speed-up: tasks of ~0.25 s each, all in one fiber (one core) against
//     spawn_process on the pool (one worker process per CPU).
// Prints a table with the ratios and the bars, and one JSON line per figure to
// the file named by the first argument (if any).
//
//   build-bench/bench/weft_process [results.jsonl]
//
// Environment: BENCH_REPS (repetitions of each measure, median reported; default 5).
#include <weft/weft.hpp>

#include "cpu_work.hpp"  // samples/

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

int noop(int x) { return x; }

// The median of `reps` runs of f, each returning seconds per unit.
double median_of(int reps, const std::function<double()>& f) {
  std::vector<double> runs;
  for (int i = 0; i < reps; ++i) runs.push_back(f());
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

double seconds_since(Clock::time_point start) { return Seconds(Clock::now() - start).count(); }

// A child process echoing 8-byte messages on a socketpair: the floor for a round trip
// to another process. Forked before weft starts any thread.
struct EchoChild {
  pid_t pid = -1;
  int fd = -1;

  static EchoChild start() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    EchoChild c;
    c.pid = ::fork();
    if (c.pid == 0) {
      ::close(sv[0]);
      std::uint64_t v;
      while (::read(sv[1], &v, sizeof v) == sizeof v) {
        if (::write(sv[1], &v, sizeof v) != sizeof v) break;
      }
      ::_exit(0);
    }
    ::close(sv[1]);
    c.fd = sv[0];
    return c;
  }
  double round_trip(int n) const {
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(n); ++i) {
      std::uint64_t v = i;
      if (::write(fd, &v, sizeof v) != sizeof v || ::read(fd, &v, sizeof v) != sizeof v) std::abort();
    }
    return seconds_since(start) / n;
  }
  void stop() {
    ::close(fd);
    ::waitpid(pid, nullptr, 0);
  }
};

// fork, run the task in the child, send the result back through a pipe, reap: per task.
double fork_per_task(int n) {
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    int p[2];
    if (::pipe(p) != 0) std::abort();
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int r = noop(i);
      if (::write(p[1], &r, sizeof r) != sizeof r) ::_exit(1);
      ::_exit(0);
    }
    ::close(p[1]);
    int r = -1;
    if (::read(p[0], &r, sizeof r) != sizeof r || r != i) std::abort();
    ::close(p[0]);
    ::waitpid(pid, nullptr, 0);
  }
  return seconds_since(start) / n;
}

struct Row {
  std::string what;
  double value;
  std::string unit;
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = std::getenv("BENCH_REPS") ? std::atoi(std::getenv("BENCH_REPS")) : 5;
  std::FILE* json = argc > 1 ? std::fopen(argv[1], "w") : nullptr;
  std::vector<Row> rows;
  auto note = [&](const std::string& what, double value, const std::string& unit) {
    rows.push_back({what, value, unit});
    if (json) std::fprintf(json, "{\"name\": \"%s\", \"value\": %.9g, \"unit\": \"%s\"}\n", what.c_str(), value, unit.c_str());
  };

  // Baselines that fork: before weft starts its threads.
  EchoChild echo = EchoChild::start();
  echo.round_trip(2000);  // warm
  const double pingpong = median_of(reps, [&] { return echo.round_trip(20000); });
  echo.stop();
  const double fork_rt = median_of(reps, [] { return fork_per_task(300); });

  // One worker thread: the caller and the pool's driver fibers share it, as in a program
  // whose fibers offload to processes.
  weft::configure({.threads = 1});
  const unsigned workers = weft::current_config().process_workers;

  // Round trip: one task at a time, each joined before the next is sent.
  auto one_at_a_time = [&](int n, auto spawn_one) {
    return weft::run([&] {
      for (int i = 0; i < n / 4; ++i) spawn_one(i).get();  // workers up, warm
      return median_of(reps, [&] {
        const auto start = Clock::now();
        for (int i = 0; i < n; ++i) {
          if (spawn_one(i).get() != i) std::abort();
        }
        return seconds_since(start) / n;
      });
    });
  };
  const double process_rt = one_at_a_time(5000, [](int i) { return weft::spawn_process(noop, i); });
  const double blocking_rt = one_at_a_time(20000, [](int i) { return weft::spawn_blocking(noop, i); });

  // Throughput: everything submitted at once, then joined.
  auto burst = [&](auto spawn_one) {
    return weft::run([&] {
      return median_of(reps, [&] {
        const int n = 20000;
        std::vector<weft::Unfuture<int>> all;
        all.reserve(n);
        const auto start = Clock::now();
        for (int i = 0; i < n; ++i) all.push_back(spawn_one(i));
        for (int i = 0; i < n; ++i) {
          if (all[i].get() != i) std::abort();
        }
        return seconds_since(start) / n;
      });
    });
  };
  const double process_burst = burst([](int i) { return weft::spawn_process(noop, i); });
  const double blocking_burst = burst([](int i) { return weft::spawn_blocking(noop, i); });

  // CPU-bound: 8 tasks of ~0.25 s, one fiber against the process pool.
  const std::uint64_t rounds = weft_samples::rounds_for(std::chrono::milliseconds(250));
  const int tasks = 8;
  auto all_tasks = [&](auto spawn_one) {
    return weft::run([&] {
      return median_of(std::max(1, reps / 2), [&] {
        const auto start = Clock::now();
        std::vector<weft::Unfuture<std::uint64_t>> all;
        for (int i = 0; i < tasks; ++i) all.push_back(spawn_one(rounds + i));
        for (auto& u : all) u.get();
        return seconds_since(start);
      });
    });
  };
  // All spawned first, but one worker thread runs the fibers one after another.
  const double one_fiber = all_tasks([](std::uint64_t r) { return weft::spawn(weft_samples::crunch, r); });
  const double in_processes =
      all_tasks([](std::uint64_t r) { return weft::spawn_process(weft_samples::crunch, r); });

  note("socketpair ping-pong between two processes (floor)", pingpong * 1e6, "us");
  note("spawn_process no-op round trip, from a fiber", process_rt * 1e6, "us");
  note("spawn_blocking no-op round trip, from a fiber", blocking_rt * 1e6, "us");
  note("fork per task, no-op round trip", fork_rt * 1e6, "us");
  note("spawn_process burst of 20,000 no-ops, per task", process_burst * 1e6, "us");
  note("spawn_blocking burst of 20,000 no-ops, per task", blocking_burst * 1e6, "us");
  note("8 CPU tasks of ~0.25 s as fibers on one worker", one_fiber, "s");
  note("8 CPU tasks of ~0.25 s with spawn_process", in_processes, "s");
  if (json) std::fclose(json);

  std::printf("%-56s %12s\n", "spawn_process, measured side by side", "value");
  for (const Row& r : rows) std::printf("%-56s %10.2f %s\n", r.what.c_str(), r.value, r.unit.c_str());
  std::printf("\nratios (%u worker processes, %ld CPUs):\n", workers, ::sysconf(_SC_NPROCESSORS_ONLN));
  const double rt_ratio = process_rt / pingpong;
  const double speedup = one_fiber / in_processes;
  std::printf("  no-op round trip / socketpair ping-pong   %6.2fx   bar <= 3x    %s\n", rt_ratio,
              rt_ratio <= 3 ? "PASS" : "FAIL");
  std::printf("  CPU-bound speed-up over one fiber         %6.2fx   bar >= 1.8x  %s\n", speedup,
              speedup >= 1.8 ? "PASS" : "FAIL");
  std::printf("  fork per task / spawn_process round trip  %6.2fx\n", fork_rt / process_rt);
  std::printf("  one at a time / burst (batching gain)     %6.2fx\n", process_rt / process_burst);
  std::printf("  spawn_process / spawn_blocking, burst     %6.2fx\n", process_burst / blocking_burst);
  return 0;
}
