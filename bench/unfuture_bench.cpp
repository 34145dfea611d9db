// 3. Same-thread completion latency: a fiber sets a promise and waits for what a
// continuation made of the value. One iteration is one round.
#include "common.hpp"

namespace {

using weft_bench::report_per;

// Promise -> then() -> get(): the continuation runs as a new fiber on this worker.
void BM_weft_set_then_get(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    for (auto _ : st) {
      weft::Promise<int> p;
      auto u = p.get_unfuture().then([](int v) { return v + 1; });
      p.set_value(1);
      benchmark::DoNotOptimize(u.get());
    }
  });
  report_per(state, "ns_per_round", 1);
}
BENCHMARK(BM_weft_set_then_get);

// Boost.Fiber's nearest equivalent: a promise whose future another fiber (pooled stack)
// waits on and turns into the result; set, then join that fiber.
void BM_boost_promise_set_get(benchmark::State& state) {
  auto stacks = weft_bench::boost_pooled_stack();
  for (auto _ : state) {
    boost::fibers::promise<int> p;
    int result = 0;
    boost::fibers::fiber waiter(std::allocator_arg, stacks,
                                [&result, f = p.get_future()]() mutable { result = f.get() + 1; });
    p.set_value(1);
    waiter.join();
    benchmark::DoNotOptimize(result);
  }
  report_per(state, "ns_per_round", 1);
}
BENCHMARK(BM_boost_promise_set_get);

}  // namespace
