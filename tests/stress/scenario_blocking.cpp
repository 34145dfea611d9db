// spawn_blocking_mix: spawn_blocking calls from fibers and plain threads, whose tasks
// compute, sleep, spawn fibers and wait for them, or make one nested spawn_blocking call
// and wait for it (a few at a time: far below the pool's bound).
// Checks: every task's exact result, and each ran exactly once.
#include "stress.hpp"

#include <atomic>
#include <memory>

namespace stress {
namespace {

struct Counts {
  std::atomic<int> ran{0};
};

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
    default: {  // one nested call
      auto inner = weft::spawn_blocking([base, c] {
        c->ran.fetch_add(1);
        return base + 1;
      });
      STRESS_AWAIT(inner, "a nested spawn_blocking call");
      return inner.get() * 3;
    }
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
    default: return (base + 1) * 3;
  }
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
    runs += kind == 3 ? 2 : 1;
    items.push_back({ctx.rng.next(), kind});
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
                      "spawn_blocking from fibers and threads; tasks compute, sleep, join fibers, nest once",
                      spawn_blocking_mix}};

}  // namespace
}  // namespace stress
