// spawn_tree: fibers spawning fibers, on every worker, joined in random order or left
// running unjoined; roots started from plain threads, from a fiber, or by weft::run.
// Checks: every node runs exactly once, each joined subtree reports its exact size.
#include "stress.hpp"

#include <atomic>
#include <memory>

namespace stress {
namespace {

// Everything a node will do, drawn from its own seed, so the expected sizes can be
// computed without running anything.
struct Plan {
  int children = 0;
  std::vector<std::uint64_t> child_seeds;
  std::vector<bool> detached;     // spawned and never joined
  std::vector<int> join_order;    // a permutation of the joined children
  int join_style = 0;             // 0 get(), 1 wait_for(0) polls, 2 bounded wait, 3 when_all
  bool pause_before = false;
  std::uint64_t jitter_seed = 0;
};

struct Shape {
  int depth;
  int fanout;
};

Plan plan(std::uint64_t seed, int depth, Shape shape) {
  Rng rng(seed);
  Plan p;
  p.children = depth > 0 ? rng.between(0, shape.fanout) : 0;
  for (int i = 0; i < p.children; ++i) {
    p.child_seeds.push_back(rng.child_seed(static_cast<std::uint64_t>(i)));
    p.detached.push_back(rng.chance(1, 8));
    if (!p.detached.back()) p.join_order.push_back(i);
  }
  for (std::size_t i = p.join_order.size(); i > 1; --i) {
    std::swap(p.join_order[i - 1], p.join_order[rng.below(i)]);
  }
  p.join_style = static_cast<int>(rng.below(4));
  p.pause_before = rng.chance(1, 3);
  p.jitter_seed = rng.next();
  return p;
}

// Nodes in the whole tree / in the part a join reaches (detached subtrees excluded).
long tree_size(std::uint64_t seed, int depth, Shape shape, bool joined_only) {
  const Plan p = plan(seed, depth, shape);
  long n = 1;
  for (int i = 0; i < p.children; ++i) {
    if (joined_only && p.detached[static_cast<std::size_t>(i)]) continue;
    n += tree_size(p.child_seeds[static_cast<std::size_t>(i)], depth - 1, shape, joined_only);
  }
  return n;
}

struct Tally {
  std::atomic<long> ran{0};
};

long node(std::uint64_t seed, int depth, Shape shape, std::shared_ptr<Tally> tally) {
  const Plan p = plan(seed, depth, shape);
  Rng rng(p.jitter_seed);
  tally->ran.fetch_add(1, std::memory_order_relaxed);
  if (p.pause_before) jitter(rng);
  std::vector<weft::Unfuture<long>> kids;
  for (int i = 0; i < p.children; ++i) {
    kids.push_back(weft::spawn(node, p.child_seeds[static_cast<std::size_t>(i)], depth - 1, shape, tally));
    if (rng.chance(1, 4)) jitter(rng);
  }
  long n = 1;
  if (p.join_style == 3) {  // all at once through when_all
    std::vector<weft::Unfuture<long>> joined;
    for (int i : p.join_order) joined.push_back(kids[static_cast<std::size_t>(i)]);
    auto all = weft::when_all(joined);
    STRESS_AWAIT(all, "when_all over child fibers");
    for (long k : all.get()) n += k;
    return n;
  }
  for (int i : p.join_order) {
    auto& k = kids[static_cast<std::size_t>(i)];
    if (p.join_style == 1) {
      const auto until = Clock::now() + kBound;
      while (!k.wait_for(0s)) {
        STRESS_CHECK(Clock::now() < until, "child " << i << " of a depth-" << depth << " node never completed");
        weft::this_fiber::yield();
      }
    } else if (p.join_style == 2) {
      STRESS_AWAIT(k, "a child fiber");
    }
    n += k.get();
  }
  return n;
}

void spawn_tree(Context& ctx) {
  Shape shape{ctx.rng.between(1, 5), 0};
  shape.fanout = shape.depth >= 4 ? ctx.rng.between(1, 4) : ctx.rng.between(1, 6);
  const int roots = ctx.rng.between(1, static_cast<int>(ctx.threads) * 2);
  auto tally = std::make_shared<Tally>();
  long expected_all = 0;
  std::vector<std::uint64_t> seeds;
  for (int r = 0; r < roots; ++r) {
    seeds.push_back(ctx.rng.child_seed(static_cast<std::uint64_t>(r)));
    expected_all += tree_size(seeds.back(), shape.depth, shape, false);
  }
  // Each root from a plain thread of its own, from one fiber that starts them all, or
  // by weft::run on this thread.
  auto check_root = [&](int r, long got) {
    const long want = tree_size(seeds[static_cast<std::size_t>(r)], shape.depth, shape, true);
    STRESS_CHECK(got == want, "root " << r << " counted " << got << " joined nodes, expected " << want);
  };
  std::vector<PlainThread> threads;
  std::vector<std::pair<int, weft::Unfuture<long>>> from_fiber;
  for (int r = 0; r < roots; ++r) {
    const auto seed = seeds[static_cast<std::size_t>(r)];
    switch (ctx.rng.below(3)) {
      case 0:
        threads.emplace_back([=, &check_root] {
          auto u = weft::spawn(node, seed, shape.depth, shape, tally);
          STRESS_AWAIT(u, "a root spawned from a plain thread");
          check_root(r, u.get());
        });
        break;
      case 1:
        // Wrapped in a vector: a returned Unfuture would be flattened into its value.
        from_fiber.emplace_back(r, weft::run([=] {
          return std::vector{weft::spawn(node, seed, shape.depth, shape, tally)};
        }).front());
        break;
      default:
        check_root(r, weft::run(node, seed, shape.depth, shape, tally));
        break;
    }
  }
  for (auto& t : threads) t.join();
  // Roots spawned by a fiber that has ended: still joinable from here.
  for (auto& [r, u] : from_fiber) {
    STRESS_AWAIT(u, "a root spawned by a fiber that ended");
    check_root(r, u.get());
  }
  // Detached subtrees finish on their own: every node must have run, exactly once.
  const auto until = Clock::now() + kBound;
  while (tally->ran.load() < expected_all && Clock::now() < until) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(std::chrono::microseconds(ctx.rng.below(200)));
  STRESS_CHECK(tally->ran.load() == expected_all,
               tally->ran.load() << " nodes ran, the tree has " << expected_all << " (depth " << shape.depth
                                 << ", fan-out up to " << shape.fanout << ", " << roots << " roots)");
}

const Registered reg{{"spawn_tree", "fibers spawn fibers (depth 1-5, fan-out 1-6), joined in random order or detached", spawn_tree}};

}  // namespace
}  // namespace stress
