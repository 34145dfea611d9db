// A seeded, time-bounded stress loop: fibers on every worker and plain threads run random
// mixes of every channel operation (blocking, try, timed, select with send and receive
// cases, timeout and default, close) on a few channels of random capacities. At the end of
// each round every channel is closed and drained, and the values received must be exactly
// the values whose send succeeded: none lost, none duplicated, none invented. Any hang
// (a lost wake-up) shows as the test's timeout, with the seed printed first.
//
// Replay: WEFT_CHANNEL_STRESS_SEED=<seed> test_channel_stress_mix (thread timing still
// varies, so a replay makes the same choices, not the same interleaving).
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int channels = 3;
constexpr int fiber_actors = 6, thread_actors = 2;
constexpr auto round_length = 150ms;
constexpr auto budget = 2000ms;

using Value = std::uint64_t;
using Chan = weft::Channel<Value>;

struct Log {
  std::vector<Value> sent, received;
};

class Actor {
 public:
  Actor(std::array<Chan, channels> chans, std::uint64_t seed, Value id_base, Clock::time_point end)
      : chans_(chans), rng_(seed), next_(id_base), end_(end) {}

  Log run() {
    while (Clock::now() < end_) step();
    return std::move(log_);
  }

 private:
  Chan& any() { return chans_[pick(channels)]; }
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::chrono::microseconds short_wait() { return std::chrono::microseconds(pick(500)); }
  void got(const std::optional<Value>& v) {
    if (v) log_.received.push_back(*v);
  }

  void step() {
    const Value v = next_++;
    try {
      // Mostly operations that cannot wait long, so values keep moving; now and then one
      // that waits for a partner (or the round's closing); rarely a close.
      const std::size_t op = pick(100);
      if (op < 15) {
        if (any().try_send(Value{v})) log_.sent.push_back(v);
      } else if (op < 30) {
        if (any().send_for(Value{v}, short_wait())) log_.sent.push_back(v);
      } else if (op < 45) {
        got(any().try_receive().value);
      } else if (op < 60) {
        got(any().receive_for(short_wait()).value);
      } else if (op < 70) {
        (void)weft::select(weft::send_case(any(), v, [&] { log_.sent.push_back(v); }),
                           weft::receive_case(any(), [&](auto r) { got(r); }), weft::timeout_case(short_wait()));
      } else if (op < 80) {
        const Value w = next_++;
        (void)weft::select(weft::send_case(any(), v, [&] { log_.sent.push_back(v); }),
                           weft::send_case(any(), w, [&] { log_.sent.push_back(w); }), weft::default_case());
      } else if (op < 85) {
        any().send(v);
        log_.sent.push_back(v);
      } else if (op < 90) {
        got(any().receive());
      } else if (op < 94) {
        (void)weft::select(weft::receive_case(any(), [&](auto r) { got(r); }),
                           weft::receive_case(any(), [&](auto r) { got(r); }));
      } else if (op < 97) {
        (void)weft::select(weft::receive_case(any(), [&](auto r) { got(r); }),
                           weft::send_case(any(), v, [&] { log_.sent.push_back(v); }),
                           weft::receive_case(any(), [&](auto r) { got(r); }));
      } else if (op < 98) {
        for (Value x : any()) {  // until closed, or a random few values
          log_.received.push_back(x);
          if (pick(4) == 0) break;
        }
      } else if (pick(20) == 0) {
        any().close();
      }
    } catch (const weft::channel_closed&) {
      // A send on (or a close of) a closed channel: nothing moved.
    }
  }

  std::array<Chan, channels> chans_;
  std::mt19937_64 rng_;
  Value next_;
  Clock::time_point end_;
  Log log_;
};

void close_quietly(Chan& ch) {
  try {
    ch.close();
  } catch (const weft::channel_closed&) {
  }
}

}  // namespace

TEST_CASE("random mixes of channel operations from fibers and threads lose and duplicate nothing") {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WEFT_CHANNEL_STRESS_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::fprintf(stderr, "channel stress seed: %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  const auto stop = Clock::now() + budget;
  int rounds = 0;
  std::size_t moved = 0;
  while (Clock::now() < stop) {
    CAPTURE(seed);
    CAPTURE(rounds);
    std::array<Chan, channels> chans;
    for (auto& c : chans) c = Chan(std::array<int, 4>{0, 1, 2, 5}[rng() % 4]);
    const auto end = Clock::now() + round_length;
    std::vector<weft::Unfuture<Log>> fibers;
    std::vector<Log> logs(thread_actors);
    std::vector<std::thread> threads;
    int actor = 0;
    auto id_base = [&] { return (Value(rounds) << 40) | (Value(actor++) << 32); };
    for (int i = 0; i < fiber_actors; ++i) {
      fibers.push_back(weft::spawn([a = Actor(chans, rng(), id_base(), end)]() mutable { return a.run(); }));
    }
    for (int i = 0; i < thread_actors; ++i) {
      threads.emplace_back([&logs, i, a = Actor(chans, rng(), id_base(), end)]() mutable { logs[i] = a.run(); });
    }
    // At the round's end, close everything: a blocked operation must end (a send with
    // channel_closed, a receive with nothing) or the test hangs.
    std::this_thread::sleep_until(end);
    for (auto& c : chans) close_quietly(c);
    // Threads first: each writes its own element of `logs`, which must not move (grow)
    // while one still may.
    for (auto& t : threads) t.join();
    for (auto& f : fibers) logs.push_back(f.get());

    std::vector<Value> sent, received;
    for (auto& l : logs) {
      sent.insert(sent.end(), l.sent.begin(), l.sent.end());
      received.insert(received.end(), l.received.begin(), l.received.end());
    }
    for (auto& c : chans) {
      while (auto r = c.try_receive()) received.push_back(*r.value);
      REQUIRE(c.try_receive().status == weft::ReceiveStatus::closed);
    }
    std::sort(sent.begin(), sent.end());
    std::sort(received.begin(), received.end());
    REQUIRE(std::adjacent_find(received.begin(), received.end()) == received.end());  // duplicated
    REQUIRE(received.size() == sent.size());  // lost (fewer) or invented (more)
    REQUIRE(received == sent);
    moved += sent.size();
    ++rounds;
  }
  MESSAGE("rounds: " << rounds << ", values moved: " << moved);
  CHECK(rounds > 0);
}
