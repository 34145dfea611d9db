// A bounded buffer on two sem_t (free slots, filled slots) and a std::mutex, between
// producers and consumers that are fibers on two workers and plain threads at once: every
// item produced is consumed exactly once, none lost to a missed wake-up. The consumer
// fibers start first and wait on the empty buffer; before the semaphore shims each such
// wait blocked its worker in glibc, so the producer fibers of that worker never ran, and
// once the plain threads' items were gone the run hung.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <semaphore.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kSlots = 4;
constexpr int kFiberProducers = 6, kThreadProducers = 2;
constexpr int kFiberConsumers = 6, kThreadConsumers = 2;
constexpr long kPerProducer = 2'000;
constexpr long kItems = (kFiberProducers + kThreadProducers) * kPerProducer;
constexpr long kPerConsumer = kItems / (kFiberConsumers + kThreadConsumers);
static_assert(kItems % (kFiberConsumers + kThreadConsumers) == 0);

class Buffer {
 public:
  Buffer() {
    sem_init(&free_, 0, kSlots);
    sem_init(&filled_, 0, 0);
  }
  ~Buffer() {
    sem_destroy(&free_);
    sem_destroy(&filled_);
  }
  void put(long item) {
    while (sem_wait(&free_) != 0) {
    }
    {
      std::lock_guard lk(lock_);
      ring_[tail_++ % kSlots] = item;
    }
    sem_post(&filled_);
  }
  long take() {
    while (sem_wait(&filled_) != 0) {
    }
    long item;
    {
      std::lock_guard lk(lock_);
      item = ring_[head_++ % kSlots];
    }
    sem_post(&free_);
    return item;
  }

 private:
  sem_t free_, filled_;
  std::mutex lock_;
  long ring_[kSlots] = {};
  long head_ = 0, tail_ = 0;  // guarded by lock_
};

struct Tally {
  std::vector<std::atomic<int>> seen = std::vector<std::atomic<int>>(kItems);
  std::atomic<long> taken{0};
};

void produce(Buffer& b, int producer) {
  for (long i = 0; i < kPerProducer; ++i) {
    b.put(producer * kPerProducer + i);
    if (i % 64 == 0) std::this_thread::sleep_for(50us);  // hooked in a fiber
  }
}

void consume(Buffer& b, Tally& t) {
  for (long i = 0; i < kPerConsumer; ++i) {
    const long item = b.take();
    if (item >= 0 && item < kItems) ++t.seen[item];
    ++t.taken;
  }
}

}  // namespace

TEST_CASE("a semaphore bounded buffer between fibers on two workers and plain threads loses and repeats nothing") {
  weft::configure({.threads = 2});
  Buffer buffer;
  Tally tally;
  auto fibers = weft::spawn([&] {
    std::vector<weft::Unfuture<void>> all;
    for (int c = 0; c < kFiberConsumers; ++c) all.push_back(weft::spawn([&] { consume(buffer, tally); }));
    std::this_thread::sleep_for(20ms);  // the consumers wait on the empty buffer
    for (int p = 0; p < kFiberProducers; ++p) all.push_back(weft::spawn([&, p] { produce(buffer, p); }));
    for (auto& f : all) f.get();
  });
  std::vector<std::thread> threads;
  for (int c = 0; c < kThreadConsumers; ++c) threads.emplace_back([&] { consume(buffer, tally); });
  for (int p = 0; p < kThreadProducers; ++p) threads.emplace_back([&, p] { produce(buffer, kFiberProducers + p); });
  if (!fibers.wait_for(30s * WEFT_TEST_SLACK)) {
    std::fprintf(stderr, "hang: %ld of %ld items taken\n", tally.taken.load(), kItems);
    std::fflush(stderr);
    ::_exit(1);
  }
  fibers.get();
  for (auto& t : threads) t.join();
  CHECK(tally.taken.load() == kItems);
  long missing = 0, repeated = 0;
  for (const auto& s : tally.seen) {
    if (s.load() == 0) ++missing;
    if (s.load() > 1) ++repeated;
  }
  CHECK(missing == 0);
  CHECK(repeated == 0);
}
