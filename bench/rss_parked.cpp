// 6. Memory per parked fiber: park 100,000 fibers, each waiting on one shared result, and
// divide the growth of the resident set by their number. One runtime per process (`weft`
// or `boost`), so neither inherits pages the other touched. Prints one JSON object.
//
//   weft_rss weft|boost [count]
#include "common.hpp"

#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Measure {
  long before_kib = 0;
  long after_kib = 0;
};

// weft: the fibers are spawned from a fiber on the one worker, and that fiber yields until
// every one of them has run up to its wait.
Measure park_weft(int count) {
  weft::configure({.threads = 1});
  return weft::run([count] {
    weft::Promise<void> gate;
    const weft::Unfuture<void> shared = gate.get_unfuture();
    int parked = 0;  // all on this worker's thread
    std::vector<weft::Unfuture<void>> fibers(count);  // touched before the first reading
    Measure m;
    m.before_kib = weft_bench::rss_kib();
    for (auto& f : fibers) {
      f = weft::spawn([shared, &parked] {
        ++parked;
        shared.get();
      });
    }
    while (parked < count) weft::this_fiber::yield();
    m.after_kib = weft_bench::rss_kib();
    gate.set_value();
    for (auto& f : fibers) f.get();
    return m;
  });
}

// Boost.Fiber on this thread with pooled stacks of weft's size, waiting on a shared_future.
Measure park_boost(int count) {
  auto stacks = weft_bench::boost_pooled_stack();
  boost::fibers::promise<void> gate;
  boost::fibers::shared_future<void> shared = gate.get_future().share();
  int parked = 0;
  std::vector<boost::fibers::fiber> fibers(count);
  Measure m;
  m.before_kib = weft_bench::rss_kib();
  for (auto& f : fibers) {
    f = boost::fibers::fiber(std::allocator_arg, stacks, [shared, &parked] {
      ++parked;
      shared.get();
    });
  }
  while (parked < count) boost::this_fiber::yield();
  m.after_kib = weft_bench::rss_kib();
  gate.set_value();
  for (auto& f : fibers) f.join();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const bool weft_mode = argc >= 2 && std::strcmp(argv[1], "weft") == 0;
  const bool boost_mode = argc >= 2 && std::strcmp(argv[1], "boost") == 0;
  const int count = argc >= 3 ? std::atoi(argv[2]) : 100'000;
  if ((!weft_mode && !boost_mode) || count <= 0) {
    std::fprintf(stderr, "usage: %s weft|boost [count]\n", argv[0]);
    return 2;
  }
  const Measure m = weft_mode ? park_weft(count) : park_boost(count);
  std::printf(
      "{\"runtime\": \"%s\", \"fibers\": %d, \"rss_before_kib\": %ld, \"rss_after_kib\": %ld, "
      "\"kib_per_fiber\": %.3f}\n",
      argv[1], count, m.before_kib, m.after_kib,
      static_cast<double>(m.after_kib - m.before_kib) / count);
  return 0;
}
