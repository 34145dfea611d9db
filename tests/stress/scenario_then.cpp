// then_chain: continuation chains up to 150 long, attached by a plain thread or a fiber
// while the source completes; steps take the value or the Unfuture, flatten an Unfuture
// from a fiber or from a Promise a plain thread sets, or throw; a failure skips value steps
// until an Unfuture step recovers. Several chains may hang off one source. Sometimes also
// a deep flattening chain (up to 20,000 levels): each level a fiber or a then()
// continuation returning the next level's Unfuture, the innermost value ready, a fiber's,
// or a Promise a plain thread sets, so every level's completion follows from one publish
// (nested, these overflowed the stack from about 1,500 levels: defect 8 of issue 11).
// Checks: the chain ends with exactly the value (or the exception) a sequential
// simulation of the same steps gives; the deep chain's value went through every level.
#include "stress.hpp"

#include <memory>
#include <mutex>
#include <stdexcept>

namespace stress {
namespace {

enum class Step { add, recover, flatten_fiber, flatten_promise, fail };

struct Chain {
  std::vector<Step> steps;
  std::vector<std::int64_t> k;
};

// What a value step computes; kept small so 150 steps never overflow.
std::int64_t step(std::int64_t v, std::int64_t k) { return (v * 3 + k) % 1000003; }

// Where a chain is, as the simulation sees it.
struct Outcome {
  bool failed = false;
  std::int64_t value = 0;  // or the failing step's number
};

Outcome simulate(const Chain& c, std::int64_t source) {
  Outcome o{false, source};
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    switch (c.steps[i]) {
      case Step::add:
      case Step::flatten_fiber:
      case Step::flatten_promise:
        if (!o.failed) o.value = step(o.value, c.k[i]);
        break;
      case Step::recover:
        o = o.failed ? Outcome{false, c.k[i] - o.value} : Outcome{false, o.value + c.k[i]};
        break;
      case Step::fail:
        if (!o.failed) o = Outcome{true, static_cast<std::int64_t>(i)};
        break;
    }
  }
  return o;
}

// Plain threads the steps start (to set a flattened Promise later); joined at the end.
struct Helpers {
  std::mutex m;
  std::vector<PlainThread> threads;
};

std::int64_t failed_step(const std::exception& e) {
  const std::string w = e.what();
  STRESS_CHECK(w.rfind("step ", 0) == 0, "unexpected exception in a chain: " << w);
  return std::stoll(w.substr(5));
}

weft::Unfuture<std::int64_t> attach(weft::Unfuture<std::int64_t> u, const Chain& c, std::size_t i,
                                    std::shared_ptr<Helpers> helpers, std::uint64_t js) {
  const std::int64_t k = c.k[i];
  switch (c.steps[i]) {
    case Step::add:
      return u.then([k](std::int64_t v) { return step(v, k); });
    case Step::recover:
      return u.then([k](weft::Unfuture<std::int64_t> done) -> std::int64_t {
        try {
          return done.get() + k;
        } catch (const std::runtime_error& e) {
          return k - failed_step(e);
        }
      });
    case Step::flatten_fiber:
      return u.then([k, js](std::int64_t v) {
        return weft::spawn([v, k, js] {
          Rng r(js);
          jitter(r);
          return step(v, k);
        });
      });
    case Step::flatten_promise:
      return u.then([k, js, helpers](std::int64_t v) {
        weft::Promise<std::int64_t> p;
        auto out = p.get_unfuture();
        std::lock_guard lk(helpers->m);
        helpers->threads.emplace_back([p = std::move(p), v, k, js]() mutable {
          Rng r(js);
          jitter(r);
          p.set_value(step(v, k));
        });
        return out;
      });
    case Step::fail:
      return u.then([i](std::int64_t) -> std::int64_t { throw std::runtime_error("step " + std::to_string(i)); });
  }
  return u;
}

// The deep chain: level n (> 0) applies its step to the value on the way in, then hands it
// to level n - 1 through an Unfuture that level returns. Each level is its own fiber or
// continuation, so building never recurses on one stack; only completion could.
std::int64_t level_k(std::uint64_t seed, int n) {
  return static_cast<std::int64_t>(mix(seed ^ static_cast<std::uint64_t>(n)) % 2001) - 1000;
}

weft::Unfuture<std::int64_t> deep_level(std::uint64_t seed, int n, std::int64_t v,
                                        std::shared_ptr<Helpers> helpers) {
  if (n == 0) {
    switch (mix(~seed) % 3) {
      case 0:
        return weft::spawn([v] { return v; });
      case 1: {
        weft::Promise<std::int64_t> p;
        p.set_value(v);
        return p.get_unfuture();
      }
      default: {  // set by a plain thread while the outer levels are still hooking on
        weft::Promise<std::int64_t> p;
        auto out = p.get_unfuture();
        std::lock_guard lk(helpers->m);
        helpers->threads.emplace_back([p = std::move(p), v, seed]() mutable {
          Rng r(seed);
          jitter(r);
          p.set_value(v);
        });
        return out;
      }
    }
  }
  const std::int64_t k = level_k(seed, n);
  if (mix(seed + static_cast<std::uint64_t>(n)) % 2 == 0) {  // spawn of a function returning an Unfuture
    return weft::spawn([seed, n, v, k, helpers] { return deep_level(seed, n - 1, step(v, k), helpers); });
  }
  // a continuation returning the next level's Unfuture
  return weft::spawn([v] { return v; }).then([seed, n, k, helpers](std::int64_t got) {
    return deep_level(seed, n - 1, step(got, k), helpers);
  });
}

std::int64_t deep_expected(std::uint64_t seed, int depth, std::int64_t v) {
  for (int n = depth; n > 0; --n) v = step(v, level_k(seed, n));
  return v;
}

void deep_chain(Context& ctx, std::shared_ptr<Helpers> helpers) {
  const int depth = ctx.rng.chance(1, 2) ? ctx.rng.between(1, 2000) : ctx.rng.between(2000, 20000);
  const std::uint64_t seed = ctx.rng.next();
  const std::int64_t v = ctx.rng.between(0, 1000);
  // Started from this thread or from a fiber: the first level's spawn lands differently.
  auto end = ctx.rng.chance(1, 2)
                 ? deep_level(seed, depth, v, helpers)
                 : weft::run([&] { return std::vector{deep_level(seed, depth, v, helpers)}; }).front();
  STRESS_AWAIT(end, "the end of a deep flattening chain");
  const std::int64_t got = end.get();
  STRESS_CHECK(got == deep_expected(seed, depth, v),
               "deep chain of " << depth << " levels gave " << got << ", expected " << deep_expected(seed, depth, v));
}

void then_chain(Context& ctx) {
  const int chains = ctx.rng.between(1, 3);
  std::vector<Chain> plan(static_cast<std::size_t>(chains));
  for (auto& c : plan) {
    const int len = ctx.rng.chance(1, 4) ? ctx.rng.between(50, 150) : ctx.rng.between(1, 12);
    for (int i = 0; i < len; ++i) {
      const auto r = ctx.rng.below(20);
      c.steps.push_back(r < 8 ? Step::add : r < 11 ? Step::recover : r < 15 ? Step::flatten_fiber
                                           : r < 17 ? Step::flatten_promise : Step::fail);
      c.k.push_back(ctx.rng.between(-1000, 1000));
    }
  }
  const std::int64_t source_value = ctx.rng.between(0, 1000);
  auto helpers = std::make_shared<Helpers>();

  // The source: already set, set by a plain thread, or a fiber's result.
  weft::Promise<std::int64_t> source;
  weft::Unfuture<std::int64_t> src = source.get_unfuture();
  PlainThread setter;
  const auto kind = ctx.rng.below(3);
  const auto js = ctx.rng.next();
  if (kind == 0) {
    source.set_value(source_value);
  } else if (kind == 1) {
    setter = PlainThread([&source, source_value, js] {
      Rng r(js);
      jitter(r);
      source.set_value(source_value);
    });
  } else {
    src = weft::spawn([source_value, js] {
      Rng r(js);
      jitter(r);
      return source_value;
    });
  }

  // Attach every chain, from this thread or inside a fiber; results in order.
  auto build = [&plan, src, helpers, seed = ctx.rng.next()] {
    Rng r(seed);
    std::vector<weft::Unfuture<std::int64_t>> ends;
    for (const auto& c : plan) {
      auto u = src;
      for (std::size_t i = 0; i < c.steps.size(); ++i) u = attach(u, c, i, helpers, r.next());
      ends.push_back(u);
    }
    return ends;
  };
  std::vector<weft::Unfuture<std::int64_t>> ends = ctx.rng.chance(1, 2) ? build() : weft::run(build);
  setter.join();
  for (std::size_t n = 0; n < ends.size(); ++n) {
    const Outcome want = simulate(plan[n], source_value);
    STRESS_AWAIT(ends[n], "the end of a then() chain");
    try {
      const std::int64_t got = ends[n].get();
      STRESS_CHECK(!want.failed, "chain " << n << " gave " << got << ", expected the exception of step " << want.value);
      STRESS_CHECK(got == want.value, "chain " << n << " (" << plan[n].steps.size() << " steps) gave " << got
                                               << ", expected " << want.value);
    } catch (const std::runtime_error& e) {
      STRESS_CHECK(want.failed, "chain " << n << " failed with '" << e.what() << "', expected " << want.value);
      STRESS_CHECK(failed_step(e) == want.value, "chain " << n << " failed at the wrong step: " << e.what());
    }
  }
  if (ctx.rng.chance(1, 3)) deep_chain(ctx, helpers);
  std::lock_guard lk(helpers->m);
  for (auto& t : helpers->threads) t.join();
}

const Registered reg{{"then_chain",
                      "then() chains (value, Unfuture, flattening via fiber or Promise, throwing), racing the source;"
                      " flattening 20,000 deep",
                      then_chain}};

}  // namespace
}  // namespace stress
