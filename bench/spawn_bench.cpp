// 2. Spawn + join of a fiber that does nothing, one at a time and in batches of 1,000
// (spawn all, then join all). The counter ns_per_spawn_join is the cost of one.
#include "common.hpp"

#include <vector>

namespace {

using weft_bench::report_per;

constexpr int kBatch = 1000;

void noop() {}

void BM_weft_spawn_join(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    for (auto _ : st) weft::spawn(noop).get();
  });
  report_per(state, "ns_per_spawn_join", 1);
}
BENCHMARK(BM_weft_spawn_join);

void BM_boost_spawn_join(benchmark::State& state) {
  auto stacks = weft_bench::boost_pooled_stack();
  for (auto _ : state) boost::fibers::fiber(std::allocator_arg, stacks, noop).join();
  report_per(state, "ns_per_spawn_join", 1);
}
BENCHMARK(BM_boost_spawn_join);

void BM_weft_spawn_join_batch(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    std::vector<weft::Unfuture<void>> batch;
    batch.reserve(kBatch);
    for (auto _ : st) {
      for (int i = 0; i < kBatch; ++i) batch.push_back(weft::spawn(noop));
      for (auto& u : batch) u.get();
      batch.clear();
    }
  });
  report_per(state, "ns_per_spawn_join", kBatch);
}
BENCHMARK(BM_weft_spawn_join_batch);

void BM_boost_spawn_join_batch(benchmark::State& state) {
  auto stacks = weft_bench::boost_pooled_stack();
  std::vector<boost::fibers::fiber> batch;
  batch.reserve(kBatch);
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) batch.emplace_back(std::allocator_arg, stacks, noop);
    for (auto& f : batch) f.join();
    batch.clear();
  }
  report_per(state, "ns_per_spawn_join", kBatch);
}
BENCHMARK(BM_boost_spawn_join_batch);

}  // namespace
