// 5. Skynet: a fiber spawns 10 children, each of those 10 more, six levels deep; the
// 1,000,000 leaves return their number and every parent sums its children's. 1,111,111
// fibers per run; the answer is 499999500000. Run on ONE weft worker (bench_main's
// default) against plain Boost.Fiber on one thread; bench/peers/skynet.go is Go's.
#include "common.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace {

constexpr std::int64_t kLeaves = 1'000'000;
constexpr std::int64_t kExpected = 499'999'500'000;
constexpr int kFanOut = 10;

std::int64_t weft_skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  const std::int64_t child = size / kFanOut;
  std::array<weft::Unfuture<std::int64_t>, kFanOut> kids;
  for (int i = 0; i < kFanOut; ++i) kids[i] = weft::spawn(weft_skynet, num + i * child, child);
  std::int64_t sum = 0;
  for (auto& k : kids) sum += k.get();
  return sum;
}

// Boost.Fiber as its own examples write it (libs/fiber/performance, skynet_join): join
// the children, who leave their results in the parent's frame.
void boost_skynet(boost::fibers::pooled_fixedsize_stack& stacks, std::int64_t& out,
                  std::int64_t num, std::int64_t size) {
  if (size == 1) {
    out = num;
    return;
  }
  const std::int64_t child = size / kFanOut;
  std::array<std::int64_t, kFanOut> results{};
  std::array<boost::fibers::fiber, kFanOut> kids;
  for (int i = 0; i < kFanOut; ++i) {
    kids[i] = boost::fibers::fiber(std::allocator_arg, stacks, boost_skynet, std::ref(stacks),
                                   std::ref(results[i]), num + i * child, child);
  }
  std::int64_t sum = 0;
  for (int i = 0; i < kFanOut; ++i) {
    kids[i].join();
    sum += results[i];
  }
  out = sum;
}

void check(benchmark::State& state, std::int64_t got) {
  if (got != kExpected) state.SkipWithError(("skynet: wrong sum " + std::to_string(got)).c_str());
}

// Registered first: its pool is freed when it returns, whereas weft's stacks stay pooled.
void BM_boost_skynet_1M(benchmark::State& state) {
  auto stacks = weft_bench::boost_pooled_stack();
  std::int64_t sum = 0;
  // Untimed first run: the pool's stacks are touched once, as weft's are below.
  boost::fibers::fiber(std::allocator_arg, stacks, boost_skynet, std::ref(stacks), std::ref(sum), 0,
                       kLeaves)
      .join();
  for (auto _ : state) {
    boost::fibers::fiber(std::allocator_arg, stacks, boost_skynet, std::ref(stacks),
                         std::ref(sum), 0, kLeaves)
        .join();
    check(state, sum);
  }
  state.counters["rss_mib_after"] = static_cast<double>(weft_bench::rss_kib()) / 1024;
}
BENCHMARK(BM_boost_skynet_1M)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_weft_skynet_1M(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    weft::spawn(weft_skynet, 0, kLeaves).get();  // untimed: first touch of the pooled stacks
    for (auto _ : st) check(st, weft::spawn(weft_skynet, 0, kLeaves).get());
  });
  state.counters["rss_mib_after"] = static_cast<double>(weft_bench::rss_kib()) / 1024;
}
BENCHMARK(BM_weft_skynet_1M)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
