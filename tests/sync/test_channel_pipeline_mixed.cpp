// Producer/consumer pipelines through one Channel, with producers and consumers both
// fibers (spread over both workers) and plain threads at once: every value arrives exactly
// once. Buffered and unbuffered, since they take different paths (hand-off to a parked
// receiver, the ring buffer, a parked sender's value moved into a freed slot).
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

// Fewer values under the sanitizers, which slow every hand-off tenfold.
constexpr std::uint32_t total_values = WEFT_TEST_SLACK > 1 ? 100'000 : 1'000'000;
constexpr int producers_each = 2;  // fibers, and as many threads
constexpr int consumers_each = 2;

struct Tally {
  explicit Tally(std::uint32_t n) : seen(n) {}
  std::vector<std::atomic<std::uint8_t>> seen;
  std::atomic<std::uint64_t> sum{0};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> out_of_range{0};
  void record(std::uint32_t v) {
    if (v >= seen.size()) {
      out_of_range.fetch_add(1);
      return;
    }
    if (seen[v].exchange(1) != 0) duplicates.fetch_add(1);
    sum.fetch_add(v);
    count.fetch_add(1);
  }
};

void run_pipeline(std::ptrdiff_t capacity) {
  REQUIRE(weft::current_config().threads >= 2);
  weft::Channel<std::uint32_t> ch(capacity);
  Tally tally(total_values);
  constexpr int producers = 2 * producers_each;
  // Producer p sends every value v with v % producers == p.
  auto produce = [ch](int p) mutable {
    for (std::uint32_t v = static_cast<std::uint32_t>(p); v < total_values; v += producers) ch.send(v);
  };
  auto consume = [ch, &tally]() mutable {
    for (std::uint32_t v : ch) tally.record(v);
  };

  std::vector<weft::Unfuture<void>> fibers;
  std::vector<std::thread> threads;
  for (int i = 0; i < consumers_each; ++i) {
    fibers.push_back(weft::spawn(consume));
    threads.emplace_back(consume);
  }
  std::vector<weft::Unfuture<void>> fiber_producers;
  std::vector<std::thread> thread_producers;
  for (int i = 0; i < producers_each; ++i) {
    fiber_producers.push_back(weft::spawn(produce, i));
    thread_producers.emplace_back(produce, producers_each + i);
  }
  for (auto& f : fiber_producers) f.get();
  for (auto& t : thread_producers) t.join();
  ch.close();  // every send has returned: the consumers must still get all of them
  for (auto& f : fibers) f.get();
  for (auto& t : threads) t.join();

  // Catches a value lost (count, sum), delivered twice (duplicates) or garbled.
  CHECK(tally.out_of_range.load() == 0);
  CHECK(tally.duplicates.load() == 0);
  CHECK(tally.count.load() == total_values);
  CHECK(tally.sum.load() == std::uint64_t{total_values} * (total_values - 1) / 2);
  std::uint32_t missing = 0;
  for (auto& s : tally.seen) missing += s.load() == 0 ? 1 : 0;
  CHECK(missing == 0);
  CHECK(ch.size() == 0);
}

}  // namespace

TEST_CASE("an unbuffered channel carries every value once between fibers and threads") { run_pipeline(0); }

TEST_CASE("a buffered channel carries every value once between fibers and threads") { run_pipeline(64); }

TEST_CASE("a channel of capacity 1 carries every value once between fibers and threads") { run_pipeline(1); }
