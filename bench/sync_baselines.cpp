// 10. Coordination: the baselines weft's Mutex and Channel are measured against
// (sync_bench.cpp has weft's side; Go's is bench/peers/sync.go). Same shapes on both sides:
//   uncontended lock+unlock          std::mutex on a plain thread
//   unbuffered ping-pong             Boost.Fiber's unbuffered_channel, two fibers, one thread
//   buffered throughput (1024)       Boost.Fiber's buffered_channel, producer and consumer fibers
//   thread -> consumer queue         std::mutex + std::condition_variable between two threads
#include "common.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace {

using weft_bench::report_per;

constexpr std::size_t kBuffered = 1024;

void BM_std_mutex_uncontended(benchmark::State& state) {
  // glibc skips the atomic instruction while a process has one thread; weft's is never
  // measured in such a process, so neither is this (the runtime's workers exist from here).
  weft::run([] {});
  std::mutex mu;
  long counter = 0;
  for (auto _ : state) {
    mu.lock();
    ++counter;
    mu.unlock();
  }
  benchmark::DoNotOptimize(counter);
  report_per(state, "ns_per_lock_unlock", 1);
}
BENCHMARK(BM_std_mutex_uncontended);

// A value to a partner fiber and back: two hops per iteration.
void BM_boost_unbuffered_pingpong(benchmark::State& state) {
  boost::fibers::unbuffered_channel<long> ping, pong;
  boost::fibers::fiber partner([&] {
    for (long v : ping) pong.push(v);
    pong.close();
  });
  long i = 0;
  for (auto _ : state) {
    ping.push(i);
    long back = -1;
    if (pong.pop(back) != boost::fibers::channel_op_status::success || back != i) {
      state.SkipWithError("ping-pong: wrong value");
      break;
    }
    ++i;
  }
  ping.close();
  partner.join();
  report_per(state, "ns_per_hop", 2);
}
BENCHMARK(BM_boost_unbuffered_pingpong);

// One producer fiber, one consumer fiber; an iteration is one value. (Boost's
// buffered_channel of capacity N holds N - 1 values.)
void BM_boost_buffered_1024(benchmark::State& state) {
  boost::fibers::buffered_channel<long> ch(kBuffered);
  long sum = 0;
  boost::fibers::fiber consumer([&] {
    for (long v : ch) sum += v;
  });
  long want = 0, i = 0;
  for (auto _ : state) {
    ch.push(i);
    want += i++;
  }
  ch.close();
  consumer.join();
  if (sum != want) state.SkipWithError("buffered: wrong sum");
  report_per(state, "ns_per_value", 1);
}
BENCHMARK(BM_boost_buffered_1024);

// The thread -> fiber channel's baseline: the queue two threads would share without weft.
void BM_threads_mutex_cv_queue(benchmark::State& state) {
  std::mutex mu;
  std::condition_variable not_empty, not_full;
  std::deque<long> q;
  bool closed = false;
  long sum = 0;
  std::thread consumer([&] {
    for (;;) {
      std::unique_lock lk(mu);
      not_empty.wait(lk, [&] { return !q.empty() || closed; });
      if (q.empty()) return;
      sum += q.front();
      q.pop_front();
      lk.unlock();
      not_full.notify_one();
    }
  });
  long want = 0, i = 0;
  for (auto _ : state) {
    {
      std::unique_lock lk(mu);
      not_full.wait(lk, [&] { return q.size() < kBuffered; });
      q.push_back(i);
    }
    not_empty.notify_one();
    want += i++;
  }
  {
    std::lock_guard lk(mu);
    closed = true;
  }
  not_empty.notify_one();
  consumer.join();
  if (sum != want) state.SkipWithError("queue: wrong sum");
  report_per(state, "ns_per_value", 1);
}
BENCHMARK(BM_threads_mutex_cv_queue)->UseRealTime();

}  // namespace
