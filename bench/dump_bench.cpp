// 14: the fiber dump (issue 17's bar: 10,000 parked fibers dumped in 1 s at most, and no
// worker held up more than 50 ms). Parks N fibers on an Event spread over the workers
// (their stacks a few frames deep, as a server's are), starts one ticker fiber per worker,
// then takes dumps: how long each took, how long the walk alone took (the dump's own
// headline), the text's size, and the worst gap between a ticker's 1 ms sleeps during the
// dumps beside the worst gap while nothing dumps (the reference, measured the same way in
// the same run). Prints one JSON object.
//
//   weft_dump [fibers] [dumps]      defaults 10000 and 5
#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A few frames between the fiber's start and its wait, as in a request handler.
__attribute__((noinline)) void handler_waits(weft::Event& go, int depth) {
  if (depth > 0) {
    handler_waits(go, depth - 1);
    std::atomic_signal_fence(std::memory_order_seq_cst);  // no tail call
    return;
  }
  go.wait();
}

struct Ticker {
  std::atomic<bool> stop{false};
  std::atomic<long long> worst_ns{0};
  std::atomic<bool> measuring{false};
  void run() {
    auto last = Clock::now();
    while (!stop) {
      weft::sleep_for(std::chrono::milliseconds(1));
      const auto now = Clock::now();
      const long long gap = (now - last).count();
      if (measuring && gap > worst_ns) worst_ns = gap;
      last = now;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int fibers = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int dumps = argc > 2 ? std::atoi(argv[2]) : 5;
  const unsigned workers = weft::current_config().threads;
  weft::Event go;
  std::vector<weft::Unfuture<void>> parked;
  parked.reserve(fibers);
  for (int i = 0; i < fibers; ++i) parked.push_back(weft::spawn([&go] { handler_waits(go, 6); }));
  while (true) {
    std::size_t n = 0;
    for (const auto& f : weft::list_fibers()) n += f.state == weft::FiberState::parked ? 1 : 0;
    if (n >= static_cast<std::size_t>(fibers)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // One ticker per worker (spawned from this thread: round robin).
  std::vector<Ticker> tickers(workers);
  std::vector<weft::Unfuture<void>> ticking;
  for (auto& t : tickers) ticking.push_back(weft::spawn([&t] { t.run(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  // The reference: the same tickers for as long as the dumps will take, with no dump.
  for (auto& t : tickers) t.measuring = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  long long reference_ns = 0;
  for (auto& t : tickers) {
    t.measuring = false;
    reference_ns = std::max(reference_ns, t.worst_ns.exchange(0));
  }

  std::vector<double> took_ms, walk_ms;
  std::size_t bytes = 0;
  for (auto& t : tickers) t.measuring = true;
  for (int d = 0; d < dumps; ++d) {
    std::ostringstream out;
    const auto began = Clock::now();
    weft::dump(out);
    took_ms.push_back(ms(Clock::now() - began));
    const std::string text = out.str();
    bytes = text.size();
    const auto at = text.find("taken in ");
    walk_ms.push_back(at == std::string::npos ? -1 : 1000 * std::atof(text.c_str() + at + 9));
  }
  long long worst_ns = 0;
  for (auto& t : tickers) {
    t.measuring = false;
    worst_ns = std::max(worst_ns, t.worst_ns.load());
    t.stop = true;
  }
  for (auto& t : ticking) t.get();
  go.set();
  for (auto& f : parked) f.get();

  std::sort(took_ms.begin(), took_ms.end());
  std::sort(walk_ms.begin(), walk_ms.end());
  std::printf(
      "{\"fibers\": %d, \"workers\": %u, \"dumps\": %d, \"dump_ms_median\": %.1f, \"dump_ms_max\": %.1f, "
      "\"walk_ms_median\": %.1f, \"text_kib\": %zu, \"worst_tick_gap_ms_dumping\": %.1f, "
      "\"worst_tick_gap_ms_reference\": %.1f, \"bar_dump_ms\": 1000, \"bar_worker_held_ms\": 50}\n",
      fibers, workers, dumps, took_ms[took_ms.size() / 2], took_ms.back(), walk_ms[walk_ms.size() / 2],
      bytes / 1024, worst_ns / 1e6, reference_ns / 1e6);
}
