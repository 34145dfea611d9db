// when_any_all: when_any and when_all over inputs that complete at mixed times: already
// set, fibers after random delays, Promises set by plain threads, spawn_blocking calls,
// failures, and "gated" inputs held back until when_any has answered.
// Checks: when_any names an input that is ready and was not held back; when_all gives
// every value in input order, or the first failure in input order.
#include "stress.hpp"

#include <memory>
#include <stdexcept>

namespace stress {
namespace {

enum class Kind { ready, fiber, thread_promise, blocking, gated };

void when_any_all(Context& ctx) {
  const int n = ctx.rng.between(1, 10);
  std::vector<Kind> kinds;
  std::vector<bool> fails;
  std::vector<weft::Unfuture<int>> inputs;
  std::vector<PlainThread> threads;
  std::vector<weft::Promise<int>> gates;
  std::vector<int> gate_index;
  bool any_free = false;
  for (int i = 0; i < n; ++i) {
    Kind k = static_cast<Kind>(ctx.rng.below(5));
    if (i == n - 1 && !any_free && k == Kind::gated) k = Kind::fiber;  // someone must answer when_any
    any_free = any_free || k != Kind::gated;
    kinds.push_back(k);
    fails.push_back(ctx.rng.chance(1, 6));
    const bool fail = fails.back();
    const auto js = ctx.rng.next();
    auto produce = [i, fail, js] {
      Rng r(js);
      jitter(r);
      if (fail) throw std::runtime_error("input " + std::to_string(i));
      return i * 10 + 1;
    };
    switch (k) {
      case Kind::ready: {
        weft::Promise<int> p;
        if (fail) {
          p.set_exception(std::make_exception_ptr(std::runtime_error("input " + std::to_string(i))));
        } else {
          p.set_value(i * 10 + 1);
        }
        inputs.push_back(p.get_unfuture());
        break;
      }
      case Kind::fiber:
        inputs.push_back(weft::spawn(produce));
        break;
      case Kind::thread_promise: {
        weft::Promise<int> p;
        inputs.push_back(p.get_unfuture());
        threads.emplace_back([p = std::move(p), produce]() mutable {
          try {
            p.set_value(produce());
          } catch (...) {
            p.set_exception(std::current_exception());
          }
        });
        break;
      }
      case Kind::blocking:
        inputs.push_back(weft::spawn_blocking(produce));
        break;
      case Kind::gated:
        gates.emplace_back();
        gate_index.push_back(i);
        inputs.push_back(gates.back().get_unfuture());
        break;
    }
  }

  // Combined on this thread or in a fiber; when_all first or second.
  const bool all_first = ctx.rng.chance(1, 2);
  auto combine = [inputs, all_first] {
    std::vector<weft::Unfuture<std::size_t>> any;
    std::vector<weft::Unfuture<std::vector<int>>> all;
    if (all_first) all.push_back(weft::when_all(inputs));
    any.push_back(weft::when_any(inputs));
    if (!all_first) all.push_back(weft::when_all(inputs));
    return std::make_pair(any.front(), all.front());
  };
  auto [any, all] = ctx.rng.chance(1, 2) ? combine() : weft::run(combine);

  STRESS_AWAIT(any, "when_any over inputs some of which complete");
  const std::size_t first = any.get();
  STRESS_CHECK(first < inputs.size(), "when_any gave index " << first << " of " << inputs.size());
  STRESS_CHECK(kinds[first] != Kind::gated, "when_any gave input " << first << ", which is still held back");
  STRESS_CHECK(inputs[first].ready(), "when_any gave input " << first << ", which is not ready");
  STRESS_CHECK(!all.ready() || gates.empty(), "when_all is ready while inputs are held back");

  // Release the gates, from a plain thread or a fiber.
  for (std::size_t g = 0; g < gates.size(); ++g) {
    const int i = gate_index[g];
    auto release = [p = std::move(gates[g]), i, fail = fails[static_cast<std::size_t>(i)]]() mutable {
      if (fail) {
        p.set_exception(std::make_exception_ptr(std::runtime_error("input " + std::to_string(i))));
      } else {
        p.set_value(i * 10 + 1);
      }
    };
    if (ctx.rng.chance(1, 2)) {
      threads.emplace_back(std::move(release));
    } else {
      weft::spawn(std::move(release));
    }
  }

  STRESS_AWAIT(all, "when_all after every input was released");
  int first_failure = -1;
  for (int i = 0; i < n && first_failure < 0; ++i) {
    if (fails[static_cast<std::size_t>(i)]) first_failure = i;
  }
  try {
    const std::vector<int> got = all.get();
    STRESS_CHECK(first_failure < 0, "when_all succeeded although input " << first_failure << " failed");
    STRESS_CHECK(static_cast<int>(got.size()) == n, "when_all gave " << got.size() << " values for " << n << " inputs");
    for (int i = 0; i < n; ++i) {
      STRESS_CHECK(got[static_cast<std::size_t>(i)] == i * 10 + 1, "when_all value " << i << " is " << got[static_cast<std::size_t>(i)]);
    }
  } catch (const std::runtime_error& e) {
    STRESS_CHECK(std::string(e.what()) == "input " + std::to_string(first_failure),
                 "when_all failed with '" << e.what() << "', expected input " << first_failure);
  }
  for (auto& t : threads) t.join();
  // Every input done; retrieve the failures when_all did not pass on.
  for (int i = 0; i < n; ++i) {
    auto& u = inputs[static_cast<std::size_t>(i)];
    STRESS_AWAIT(u, "an input of when_all");
    try {
      STRESS_CHECK(u.get() == i * 10 + 1, "input " << i << " gave " << u.get());
      STRESS_CHECK(!fails[static_cast<std::size_t>(i)], "input " << i << " should have failed");
    } catch (const std::runtime_error& e) {
      STRESS_CHECK(fails[static_cast<std::size_t>(i)], "input " << i << " failed: " << e.what());
    }
  }
}

const Registered reg{{"when_any_all",
                      "when_any/when_all over ready, fiber, thread-set, spawn_blocking, failing and held-back inputs",
                      when_any_all}};

}  // namespace
}  // namespace stress
