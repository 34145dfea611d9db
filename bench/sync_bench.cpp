// 10. Coordination, weft's side (the baselines are in sync_baselines.cpp, Go's in
// bench/peers/sync.go), each the same shape as its baseline:
//   uncontended lock+unlock          weft::Mutex in a fiber
//   mutex hand-off                   two fibers on one worker take the mutex, yield holding
//                                    it (so the other finds it taken and parks), release it
//   unbuffered ping-pong             weft::Channel<long>(0), two fibers, one worker
//   buffered throughput (1024)       weft::Channel<long>(1024), producer and consumer fibers
//   thread -> fiber                  a plain thread sends through a Channel(1024) to a fiber
#include "common.hpp"

#include <weft/channel.hpp>
#include <weft/sync.hpp>

#include <thread>

namespace {

using weft_bench::report_per;

constexpr std::ptrdiff_t kBuffered = 1024;

void BM_weft_mutex_uncontended(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    weft::Mutex mu;
    long counter = 0;
    for (auto _ : st) {
      mu.lock();
      ++counter;
      mu.unlock();
    }
    benchmark::DoNotOptimize(counter);
  });
  report_per(state, "ns_per_lock_unlock", 1);
}
BENCHMARK(BM_weft_mutex_uncontended);

// One iteration is two hand-offs: each fiber takes the mutex once.
void BM_weft_mutex_handoff(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    weft::Mutex mu;
    bool done = false;  // both fibers run on this worker's thread
    auto partner = weft::spawn([&] {
      while (!done) {
        mu.lock();
        weft::this_fiber::yield();
        mu.unlock();
      }
    });
    weft::this_fiber::yield();  // the partner holds the mutex first
    for (auto _ : st) {
      mu.lock();
      weft::this_fiber::yield();
      mu.unlock();
    }
    done = true;
    partner.get();
  });
  report_per(state, "ns_per_handoff", 2);
}
BENCHMARK(BM_weft_mutex_handoff);

void BM_weft_unbuffered_pingpong(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    weft::Channel<long> ping, pong;
    auto partner = weft::spawn([ping, pong] {
      for (long v : ping) pong.send(v);
      pong.close();
    });
    long i = 0;
    for (auto _ : st) {
      ping.send(i);
      const std::optional<long> back = pong.receive();
      if (!back || *back != i) {
        st.SkipWithError("ping-pong: wrong value");
        break;
      }
      ++i;
    }
    ping.close();
    partner.get();
  });
  report_per(state, "ns_per_hop", 2);
}
BENCHMARK(BM_weft_unbuffered_pingpong);

void BM_weft_buffered_1024(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    weft::Channel<long> ch(kBuffered);
    auto consumer = weft::spawn([ch] {
      long sum = 0;
      for (long v : ch) sum += v;
      return sum;
    });
    long want = 0, i = 0;
    for (auto _ : st) {
      ch.send(i);
      want += i++;
    }
    ch.close();
    if (consumer.get() != want) st.SkipWithError("buffered: wrong sum");
  });
  report_per(state, "ns_per_value", 1);
}
BENCHMARK(BM_weft_buffered_1024);

// The benchmark's plain thread produces; a fiber on a worker consumes.
void BM_weft_thread_to_fiber(benchmark::State& state) {
  weft::Channel<long> ch(kBuffered);
  auto consumer = weft::spawn([ch] {
    long sum = 0;
    for (long v : ch) sum += v;
    return sum;
  });
  long want = 0, i = 0;
  for (auto _ : state) {
    ch.send(i);
    want += i++;
  }
  ch.close();
  if (consumer.get() != want) state.SkipWithError("thread to fiber: wrong sum");
  report_per(state, "ns_per_value", 1);
}
BENCHMARK(BM_weft_thread_to_fiber)->UseRealTime();

}  // namespace
