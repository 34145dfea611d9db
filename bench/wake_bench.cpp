// 4. Cross-thread wake-up: a round trip between a plain thread (the benchmark's) and a
// partner that sleeps until woken. weft's partner is a fiber on a worker; the baselines'
// is a std::thread woken through a condition variable or a pipe. One iteration is one
// round trip (two wake-ups).
#include "common.hpp"

#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace {

using weft_bench::report_per;

// The ball carries the promise its receiver answers on, so neither side needs a queue.
struct Ball {
  std::shared_ptr<weft::Promise<Ball>> reply;  // null: stop
};
using BallPromise = weft::Promise<Ball>;

void BM_weft_cross_thread_wake(benchmark::State& state) {
  auto to_fiber = std::make_shared<BallPromise>();
  // Each answered state holds the promise of the next round: keep no handle on an old
  // round, or the chain of states grows with every round.
  auto fiber = weft::spawn([first = to_fiber->get_unfuture()]() mutable {
    weft::Unfuture<Ball> in = std::move(first);
    for (;;) {
      Ball b = in.get();
      if (!b.reply) return;
      auto next = std::make_shared<BallPromise>();
      in = next->get_unfuture();
      b.reply->set_value(Ball{std::move(next)});
    }
  });
  for (auto _ : state) {
    auto mine = std::make_shared<BallPromise>();
    auto answer = mine->get_unfuture();
    to_fiber->set_value(Ball{std::move(mine)});
    to_fiber = std::move(answer).get().reply;
  }
  to_fiber->set_value(Ball{});
  fiber.get();
  report_per(state, "ns_per_round_trip", 1);
}
BENCHMARK(BM_weft_cross_thread_wake)->UseRealTime();

void BM_thread_condvar_wake(benchmark::State& state) {
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;  // 0: main's, 1: partner's, 2: partner stops
  std::thread partner([&] {
    std::unique_lock lk(m);
    for (;;) {
      cv.wait(lk, [&] { return turn != 0; });
      if (turn == 2) return;
      turn = 0;
      cv.notify_one();
    }
  });
  for (auto _ : state) {
    std::unique_lock lk(m);
    turn = 1;
    cv.notify_one();
    cv.wait(lk, [&] { return turn == 0; });
  }
  {
    std::lock_guard lk(m);
    turn = 2;
  }
  cv.notify_one();
  partner.join();
  report_per(state, "ns_per_round_trip", 1);
}
BENCHMARK(BM_thread_condvar_wake)->UseRealTime();

void BM_thread_pipe_wake(benchmark::State& state) {
  int ping[2], pong[2];
  if (::pipe(ping) != 0 || ::pipe(pong) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  std::thread partner([&] {
    char c;
    while (::read(ping[0], &c, 1) == 1 && c == 'p') {
      if (::write(pong[1], &c, 1) != 1) return;
    }
  });
  char c = 'p';
  for (auto _ : state) {
    if (::write(ping[1], &c, 1) != 1 || ::read(pong[0], &c, 1) != 1) {
      state.SkipWithError("pipe I/O failed");
      break;
    }
  }
  char stop = 's';
  if (::write(ping[1], &stop, 1) != 1) std::perror("pipe write");
  partner.join();
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) ::close(fd);
  report_per(state, "ns_per_round_trip", 1);
}
BENCHMARK(BM_thread_pipe_wake)->UseRealTime();

}  // namespace
