// spawn_blocking_mix: spawn_blocking calls from fibers and plain threads, whose tasks
// compute, sleep, spawn fibers and wait for them, or start a chain of nested spawn_blocking
// calls, each waiting for the next, up to twice the pool's thread limit deep (the runner
// sets that limit to the worker count, 2 to 4; up to four chains at once). Before defect 6
// of issue 11 was fixed, tasks waiting like this held every pool thread and the tasks they
// waited for stayed queued for ever.
// Checks: every task's exact result (a chain's counts its levels), each ran exactly once,
// and every wait, at every level, ends within the bound.
#include "stress.hpp"

#include <atomic>
#include <memory>

namespace stress {
namespace {

struct Counts {
  std::atomic<int> ran{0};
};

// How many nested calls a chain makes below its first task: from 1 to twice the pool's
// thread limit plus 2, so one chain alone can hold more threads than the pool may run.
int nest_depth(Rng& r) {
  const auto limit = static_cast<int>(weft::current_config().blocking_threads);
  return r.between(1, 2 * limit + 2);
}

// Makes `levels` nested spawn_blocking calls, each waiting (bounded) for the one it made;
// the innermost gives v + levels.
std::int64_t nest(int levels, std::int64_t v, std::shared_ptr<Counts> c) {
  if (levels == 0) return v;
  auto inner = weft::spawn_blocking([levels, v, c] {
    c->ran.fetch_add(1);
    return nest(levels - 1, v + 1, c);
  });
  STRESS_AWAIT(inner, "a nested spawn_blocking call");
  return inner.get();
}

std::int64_t task(std::uint64_t seed, int kind, std::shared_ptr<Counts> c) {
  c->ran.fetch_add(1);
  Rng r(seed);
  const std::int64_t base = static_cast<std::int64_t>(r.below(1000));
  switch (kind) {
    case 0: {
      std::int64_t s = 0;
      for (int i = 0, n = r.between(0, 20000); i < n; ++i) s += i % 7;
      return base + s % 10;  // s is 3*n-ish; the check recomputes it
    }
    case 1:
      std::this_thread::sleep_for(std::chrono::microseconds(r.below(300)));
      return base;
    case 2: {  // a pool thread spawning a fiber and waiting for it
      auto f = weft::spawn([base, js = r.next()] {
        Rng rr(js);
        jitter(rr);
        return base * 2;
      });
      STRESS_AWAIT(f, "a fiber a pool thread waits for");
      return f.get();
    }
    default:  // a chain of nested calls
      return nest(nest_depth(r), base, c) * 3;
  }
}

std::int64_t expected(std::uint64_t seed, int kind) {
  Rng r(seed);
  const std::int64_t base = static_cast<std::int64_t>(r.below(1000));
  switch (kind) {
    case 0: {
      std::int64_t s = 0;
      for (int i = 0, n = r.between(0, 20000); i < n; ++i) s += i % 7;
      return base + s % 10;
    }
    case 1: return base;
    case 2: return base * 2;
    default: return (base + nest_depth(r)) * 3;
  }
}

// Task runs an item makes: one, plus a chain's nested calls.
int runs_of(std::uint64_t seed, int kind) {
  if (kind != 3) return 1;
  Rng r(seed);
  r.below(1000);  // base, drawn first as in task()
  return 1 + nest_depth(r);
}

void spawn_blocking_mix(Context& ctx) {
  const int n = ctx.rng.between(1, 24);
  auto counts = std::make_shared<Counts>();
  int nested = 0, runs = 0;
  struct Item {
    std::uint64_t seed;
    int kind;
    std::int64_t got = 0;
  };
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) {
    int kind = static_cast<int>(ctx.rng.below(4));
    if (kind == 3 && ++nested > 4) kind = 1;
    items.push_back({ctx.rng.next(), kind});
    runs += runs_of(items.back().seed, kind);
  }
  // Each call made from a fiber or a plain thread, then waited for there.
  std::vector<weft::Unfuture<void>> fibers;
  std::vector<PlainThread> threads;
  for (auto& it : items) {
    auto call = [&it, counts] {
      auto u = weft::spawn_blocking(task, it.seed, it.kind, counts);
      STRESS_AWAIT(u, "a spawn_blocking call");
      it.got = u.get();
    };
    if (ctx.rng.chance(1, 4)) {
      threads.emplace_back(call);
    } else {
      fibers.push_back(weft::spawn(call));
    }
  }
  for (auto& f : fibers) {
    STRESS_AWAIT(f, "a fiber waiting for spawn_blocking");
    f.get();
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < items.size(); ++i) {
    STRESS_CHECK(items[i].got == expected(items[i].seed, items[i].kind),
                 "task " << i << " (kind " << items[i].kind << ") gave " << items[i].got << ", expected "
                         << expected(items[i].seed, items[i].kind));
  }
  STRESS_CHECK(counts->ran.load() == runs, counts->ran.load() << " task runs, expected " << runs);
}

const Registered reg{{"spawn_blocking_mix",
                      "spawn_blocking from fibers and threads; tasks compute, sleep, join fibers, nest past the pool limit",
                      spawn_blocking_mix}};

}  // namespace
}  // namespace stress
