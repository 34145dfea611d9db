// The side of weft_stress that uses weft: a batch of iterations in a child process, or one
// iteration replayed in-process (for gdb).
#include "runner.hpp"
#include "stress.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>

namespace stress {

namespace {

const Scenario* pick(const std::vector<const Scenario*>& list, std::size_t k) {
  return list[k % list.size()];
}

void run_one(const Scenario& s, std::uint64_t seed, unsigned threads) {
  Context ctx{s.name, seed, threads, Rng(seed)};
  set_current(&ctx);
  try {
    s.run(ctx);
  } catch (const std::exception& e) {
    fail(__FILE__, __LINE__, std::string("exception escaped the scenario: ") + e.what());
  } catch (...) {
    fail(__FILE__, __LINE__, "unknown exception escaped the scenario");
  }
  set_current(nullptr);
}

// The runtime of a batch or a replay. The spawn_blocking pool is as small as the worker
// count (2 to 4), not the default 64, so a few nested joins already go deeper than the
// pool's thread limit (spawn_blocking_mix), which starved the pool before defect 6 of
// issue 11 was fixed. A function of the worker count, so a seed alone still replays it.
weft::Config config_for(unsigned threads) {
  return {.threads = threads, .blocking_threads = threads};
}

}  // namespace

unsigned threads_for_seed(std::uint64_t seed, unsigned forced) {
  if (forced != 0) return forced;
  return 2 + static_cast<unsigned>(mix(seed ^ 0x7468726561647321ull) % 3);
}

std::string replay_command(const Options& o, const std::string& scenario, std::uint64_t seed) {
  std::string cmd = o.program + " --scenario=" + scenario + " --seed=" + std::to_string(seed);
  if (o.threads != 0) cmd += " --threads=" + std::to_string(o.threads);
  return cmd;
}

int run_batch(const Options& o) {
  report_to(o.report_fd, false);
  weft::configure(config_for(o.batch_threads));
  std::vector<const Scenario*> list;
  for (const auto& s : scenarios()) {
    if (o.scenario.empty() || o.scenario == s.name) list.push_back(&s);
  }
  Rng rng(o.batch_seed);
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.seconds));
  // Round robin from a random start, so short batches still cover every scenario.
  for (std::size_t k = rng.below(list.size()); Clock::now() < end; ++k) {
    const Scenario& s = *pick(list, k);
    std::uint64_t seed = rng.next();
    // Only seeds whose worker count is this batch's: a seed alone then says how to replay.
    while (threads_for_seed(seed, o.threads) != o.batch_threads) seed = rng.next();
    report_begin(s.name, seed);
    run_one(s, seed, o.batch_threads);
    report_end();
  }
  return 0;
}

int replay(const Options& o) {
  const Scenario* s = find_scenario(o.scenario);
  const std::uint64_t seed = *o.seed;
  const unsigned threads = threads_for_seed(seed, o.threads);
  report_to(-1, true);
  weft::configure(config_for(threads));
  std::printf("weft_stress: replaying scenario=%s seed=%llu threads=%u, %u time(s)\n", s->name,
              static_cast<unsigned long long>(seed), threads, o.repeat);
  std::fflush(stdout);

  // The in-process stand-in for the supervisor's hang limit: abort, so gdb shows stacks.
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  unsigned round = 0;
  std::thread watchdog([&] {
    std::unique_lock lk(m);
    unsigned seen = ~0u;
    while (!done) {
      seen = round;
      if (!cv.wait_for(lk, std::chrono::seconds(25 * WEFT_TEST_SLACK), [&] { return done || round != seen; })) {
        std::fprintf(stderr, "weft_stress: FAILED scenario=%s seed=%llu: hung (no progress for %d s)\n",
                     s->name, static_cast<unsigned long long>(seed), 25 * WEFT_TEST_SLACK);
        std::abort();
      }
    }
  });
  for (unsigned i = 0; i < o.repeat; ++i) {
    run_one(*s, seed, threads);
    std::lock_guard lk(m);
    ++round;
    cv.notify_all();
  }
  {
    std::lock_guard lk(m);
    done = true;
    cv.notify_all();
  }
  watchdog.join();
  std::printf("weft_stress: PASSED scenario=%s seed=%llu threads=%u, %u time(s)\n", s->name,
              static_cast<unsigned long long>(seed), threads, o.repeat);
  return 0;
}

}  // namespace stress
