// 1. Yield ping-pong: two fibers on one thread alternately yield. One iteration is two
// yields (A -> B -> A); the counter ns_per_switch is the time of one.
#include "common.hpp"

#include <boost/context/fiber.hpp>

#include <atomic>

namespace {

using weft_bench::report_per;

// weft: the benchmark's own fiber and a partner it spawns, both on the one worker.
void BM_weft_yield(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    bool done = false;  // both fibers run on this worker's thread
    auto partner = weft::spawn([&done] {
      while (!done) weft::this_fiber::yield();
    });
    weft::this_fiber::yield();  // let the partner start, so both sit in the ready queue
    for (auto _ : st) weft::this_fiber::yield();
    done = true;
    partner.get();
  });
  report_per(state, "ns_per_switch", 2);
}
BENCHMARK(BM_weft_yield);

// Boost.Fiber with its default round_robin scheduler on this plain thread: the main
// context and one fiber.
void BM_boost_yield(benchmark::State& state) {
  bool done = false;
  boost::fibers::fiber partner([&done] {
    while (!done) boost::this_fiber::yield();
  });
  boost::this_fiber::yield();
  for (auto _ : state) boost::this_fiber::yield();
  done = true;
  partner.join();
  report_per(state, "ns_per_switch", 2);
}
BENCHMARK(BM_boost_yield);

// The floor: Boost.Context's fiber resumed back and forth, no scheduler at all.
void BM_raw_context_switch(benchmark::State& state) {
  namespace ctx = boost::context;
  bool done = false;
  ctx::fiber partner([&done](ctx::fiber&& caller) {
    while (!done) caller = std::move(caller).resume();
    return std::move(caller);
  });
  for (auto _ : state) partner = std::move(partner).resume();
  done = true;
  partner = std::move(partner).resume();  // lets it return
  report_per(state, "ns_per_switch", 2);
}
BENCHMARK(BM_raw_context_switch);

}  // namespace
