// 100,000 timers: fibers each sleeping until its own deadline, the deadlines a shuffled
// spread over 1.5 s (SPEC §4: "exact to the millisecond under load of 100k timers").
//  - never early;
//  - on time: median under 1 ms, p99 and the worst within a few ms more than the machine
//    allowed over the same period - the worse of the sleep lateness of plain threads pinned
//    one to each CPU and the time the kernel kept a worker waiting for a CPU (schedstat
//    run_delay): other processes, and the hypervisor, share this machine;
//  - in deadline order: strictly on each worker, and across workers within the lateness
//    allowed (timers on different workers fire independently); and every worker had
//    timers, or the order across workers would go unchecked.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kTimers = 100'000;
constexpr auto kSpread = 1500ms;
// Between releasing the started fibers and the first deadline: time for all 100k to
// read their deadline and go to sleep (timers due before they all have are not counted).
constexpr auto kLead = std::chrono::milliseconds(300 * WEFT_TEST_SLACK);
// Lateness allowed at the median; at the 99th percentile and for the worst timer, on top
// of what the machine imposed (the references below).
constexpr auto kMedianLate = std::chrono::milliseconds(1 * WEFT_TEST_SLACK);
constexpr auto kP99Late = std::chrono::milliseconds(3 * WEFT_TEST_SLACK);
constexpr auto kMaxLateOverReference = std::chrono::milliseconds(5 * WEFT_TEST_SLACK);
// The span over which a worker's wait for a CPU is counted against its timers' lateness.
constexpr auto kStarveWindow = 50ms;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A small index per worker thread, for the per-worker order check, and each worker's
// thread id, to read how long the OS kept it waiting for a CPU.
constexpr int kMaxSlots = 64;
std::atomic<int> next_worker_slot{0};
std::atomic<pid_t> slot_tid[kMaxSlots];
thread_local int worker_slot = -1;
int my_worker_slot() {
  if (worker_slot < 0) {
    worker_slot = next_worker_slot.fetch_add(1);
    if (worker_slot < kMaxSlots) slot_tid[worker_slot] = static_cast<pid_t>(::gettid());
  }
  return worker_slot;
}

// Time a thread has spent runnable but not running (run_delay in schedstat); 0 if the
// kernel does not keep it.
Clock::duration run_delay(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  long long on_cpu = 0, waiting = 0;
  if (!(f >> on_cpu >> waiting)) return Clock::duration::zero();
  return std::chrono::nanoseconds(waiting);
}

}  // namespace

TEST_CASE("100k sleeping fibers wake in deadline order, on every worker, each close to its deadline") {
  // Deadline offsets kSpread / kTimers apart, handed out in shuffled order so that wake
  // order cannot come from spawn order.
  std::vector<int> slot(kTimers);
  std::iota(slot.begin(), slot.end(), 0);
  std::shuffle(slot.begin(), slot.end(), std::mt19937(12345));
  const auto step = std::chrono::duration_cast<Clock::duration>(kSpread) / kTimers;
  std::vector<Clock::duration> offset(kTimers);
  for (std::size_t i = 0; i < kTimers; ++i) offset[i] = step * slot[i];

  std::vector<Clock::duration> late(kTimers);
  std::vector<int> wake_seq(kTimers, -1);
  std::vector<int> woke_on(kTimers, -1);
  std::atomic<int> seq{0};
  std::atomic<int> started{0};
  std::vector<Clock::time_point> armed_at(kTimers);

  // Deadlines count from `base`, which the fibers learn only once all of them have
  // started: spawning 100k fibers (a stack page fault each) takes seconds on a loaded
  // machine, and it is the timers, not spawning, that are measured here.
  weft::Promise<Clock::time_point> go;
  const auto base_of = go.get_unfuture();
  const auto first_spawn = Clock::now();
  std::vector<weft::Unfuture<void>> fibers;
  fibers.reserve(kTimers);
  for (int n = 0; n < kTimers; ++n) {
    fibers.push_back(weft::spawn([&, i = static_cast<std::size_t>(n)] {
      (void)my_worker_slot();
      started.fetch_add(1);
      const Clock::time_point base = base_of.get();
      const Clock::time_point deadline = base + offset[i];
      const Clock::time_point finish_at = base + kSpread + 200ms;
      armed_at[i] = Clock::now();
      weft::sleep_until(deadline);
      const auto now = Clock::now();
      wake_seq[i] = seq.fetch_add(1);
      woke_on[i] = my_worker_slot();
      late[i] = now - deadline;
      // Sleep on until every timer has fired: fibers ending (or waiting on something
      // else, deeper in their stacks) while timers still fire would add the cost of
      // touching fresh stack pages to what is measured.
      weft::sleep_until(finish_at);
    }));
  }

  const auto start_limit = Clock::now() + std::chrono::seconds(60);
  while (started.load() < kTimers && Clock::now() < start_limit) std::this_thread::sleep_for(1ms);
  REQUIRE(started.load() == kTimers);
  MESSAGE("all 100k fibers started " << ms(Clock::now() - first_spawn) << " ms after the first spawn");
  const int workers = std::min(next_worker_slot.load(), kMaxSlots);
  const auto base = Clock::now() + kLead;
  go.set_value(base);

  // The references, over the same period: on each CPU a plain thread pinned there and
  // sleeping 1 ms at a time (a stall of one virtual CPU, which the guest kernel may not
  // even see, delays it as much as a worker running there), and each worker's schedstat
  // run_delay, sampled as it goes.
  const int cpus = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<Clock::duration> reference_worst_on(static_cast<std::size_t>(cpus));
  std::vector<std::vector<std::pair<Clock::time_point, Clock::duration>>> delays(
      static_cast<std::size_t>(workers));
  std::vector<std::thread> references;
  for (int cpu = 0; cpu < cpus; ++cpu) {
    references.emplace_back([&, cpu] {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      (void)::sched_setaffinity(0, sizeof one, &one);  // best effort: unpinned still measures
      auto& worst = reference_worst_on[static_cast<std::size_t>(cpu)];
      weft::sleep_until(base - 10ms);
      while (Clock::now() < base + kSpread + 10ms) {
        const auto deadline = Clock::now() + 1ms;
        std::this_thread::sleep_until(deadline);
        worst = std::max(worst, Clock::now() - deadline);
        if (cpu != 0) continue;
        for (int w = 0; w < workers; ++w) {
          delays[static_cast<std::size_t>(w)].emplace_back(Clock::now(), run_delay(slot_tid[w]));
        }
      }
    });
  }

  const auto give_up = base + kSpread + std::chrono::seconds(20 * WEFT_TEST_SLACK);
  while (seq.load() < kTimers && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
  for (auto& r : references) r.join();
  const Clock::duration reference_worst = *std::max_element(reference_worst_on.begin(), reference_worst_on.end());
  // The most time any worker spent waiting for a CPU within any kStarveWindow while the
  // timers fired: lateness no scheduler of ours can make up for.
  Clock::duration starved{};
  for (const auto& samples : delays) {
    std::size_t from = 0;
    for (std::size_t to = 0; to < samples.size(); ++to) {
      while (samples[to].first - samples[from].first > kStarveWindow) ++from;
      starved = std::max(starved, samples[to].second - samples[from].second);
    }
  }
  for (auto& f : fibers) f.get();
  REQUIRE(seq.load() == kTimers);

  // Timers count once every fiber has gone to sleep: until then the workers are busy
  // with the burst of 100k fibers that `go` released, which is not timer work. With a
  // machine to ourselves that is all of them.
  const Clock::time_point all_armed = *std::max_element(armed_at.begin(), armed_at.end());
  std::vector<bool> measured(kTimers);
  std::size_t n_measured = 0;
  for (std::size_t i = 0; i < kTimers; ++i) {
    measured[i] = base + offset[i] > all_armed;
    n_measured += measured[i] ? 1 : 0;
  }
  MESSAGE("all asleep " << ms(all_armed - (base - kLead)) << " ms after the release; " << n_measured
                        << " timers had deadlines after that");
  REQUIRE(n_measured >= kTimers / 2);

  std::vector<Clock::duration> sorted_late;
  for (std::size_t i = 0; i < kTimers; ++i) {
    if (measured[i]) sorted_late.push_back(late[i]);
  }
  std::sort(sorted_late.begin(), sorted_late.end());
  const auto p50 = sorted_late[sorted_late.size() / 2];
  const auto p99 = sorted_late[sorted_late.size() * 99 / 100];
  const auto max_late = sorted_late.back();
  const auto machine = std::max(reference_worst, starved);  // what the machine imposed
  const auto allowed_max = machine + kMaxLateOverReference;
  MESSAGE("timer lateness: min " << ms(sorted_late.front()) << " ms, median " << ms(p50) << " ms, p99 "
                                 << ms(p99) << " ms, max " << ms(max_late) << " ms (plain threads pinned to each CPU: max "
                                 << ms(reference_worst) << " ms; a worker waited for a CPU up to "
                                 << ms(starved) << " ms within " << ms(kStarveWindow) << " ms)");
  CHECK(sorted_late.front() >= Clock::duration::zero());
  CHECK(p50 <= kMedianLate);  // systematic lateness (say, deadlines rounded to ms) shows here
  CHECK(p99 <= kP99Late + machine);
  CHECK(max_late <= allowed_max);

  // Order. Walk the timers in wake order; on each worker every deadline must be later
  // than the one before; overall no deadline may be earlier than one already woken by
  // more than the lateness allowed.
  std::vector<std::size_t> by_wake(kTimers);
  for (std::size_t i = 0; i < kTimers; ++i) by_wake[static_cast<std::size_t>(wake_seq[i])] = i;
  std::vector<Clock::duration> latest_on(static_cast<std::size_t>(next_worker_slot.load()), Clock::duration::min());
  Clock::duration latest = Clock::duration::min();
  int worker_inversions = 0;
  int global_inversions = 0;
  Clock::duration worst_global{};
  for (std::size_t i : by_wake) {
    if (!measured[i]) continue;
    const auto d = offset[i];
    auto& on_worker = latest_on[static_cast<std::size_t>(woke_on[i])];
    if (d < on_worker) ++worker_inversions;
    on_worker = std::max(on_worker, d);
    if (latest != Clock::duration::min() && d < latest) worst_global = std::max(worst_global, latest - d);
    if (latest != Clock::duration::min() && d + allowed_max < latest) ++global_inversions;
    latest = std::max(latest, d);
  }
  const auto workers_with_timers = std::count_if(latest_on.begin(), latest_on.end(),
                                                 [](Clock::duration d) { return d != Clock::duration::min(); });
  MESSAGE(workers_with_timers << " of " << weft::current_config().threads
                              << " workers woke timers; out-of-order wakes on one worker: " << worker_inversions
                              << "; across workers at most " << ms(worst_global) << " ms apart");
  CHECK(workers_with_timers == static_cast<long>(weft::current_config().threads));
  CHECK(worker_inversions == 0);
  CHECK(global_inversions == 0);
}
