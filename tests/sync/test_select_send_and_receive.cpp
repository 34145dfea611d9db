// select over send and receive cases at once, parked on several channels from fibers on
// both workers and plain threads: exactly one case of each select runs, each value moves
// once, a select never pairs with itself, and closing a channel reaches parked selects.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "sync/parked.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("selects parked on two channels each take exactly one value") {
  REQUIRE(weft::current_config().threads >= 2);
  weft::Channel<int> a, b;  // unbuffered: each send completes only into a select
  constexpr int fibers = 40, threads = 4, selects = fibers + threads;
  std::atomic<int> fired{0}, bad{0};
  std::atomic<long> sum{0};
  auto select_once = [a, b, &fired, &bad, &sum]() mutable {
    auto take = [&](std::optional<int> v) {
      if (!v) bad.fetch_add(1);
      sum.fetch_add(v.value_or(0));
    };
    const auto which = weft::select(weft::receive_case(a, take), weft::receive_case(b, take));
    if (which > 1) bad.fetch_add(1);
    fired.fetch_add(1);
  };
  std::vector<weft::Unfuture<void>> parked;
  for (int i = 0; i < fibers; ++i) parked.push_back(weft::spawn(weft::FiberOptions{"selector"}, select_once));
  std::vector<std::thread> parked_threads;
  for (int i = 0; i < threads; ++i) parked_threads.emplace_back(select_once);
  REQUIRE(weft_test::wait_parked_on_channel("selector", fibers));
  weft_test::let_threads_park();
  // Two senders, one per channel, racing: a select that won twice would leave a send
  // with no taker (a hang) and the sum short.
  std::thread to_a([a]() mutable {
    for (int i = 0; i < selects / 2; ++i) a.send(1);
  });
  std::thread to_b([b]() mutable {
    for (int i = 0; i < selects / 2; ++i) b.send(1000);
  });
  to_a.join();
  to_b.join();
  for (auto& f : parked) f.get();
  for (auto& t : parked_threads) t.join();
  CHECK(fired.load() == selects);
  CHECK(bad.load() == 0);
  CHECK(sum.load() == (selects / 2) * 1001L);
}

TEST_CASE("fibers selecting between sending and receiving move every value once") {
  // Each relay round is one select: send its next value to `out`, or take one from `in`.
  // A consumer thread drains `out`, a producer thread feeds `in`.
  weft::Channel<long> in(2), out(2);
  constexpr int relays = 6, rounds = 2000;
  std::atomic<long> relayed_sent{0}, relayed_received{0}, sends{0}, receives{0};
  std::vector<weft::Unfuture<void>> fibers;
  for (int r = 0; r < relays; ++r) {
    fibers.push_back(weft::spawn([=, &relayed_sent, &relayed_received, &sends, &receives]() mutable {
      for (long i = 0; i < rounds; ++i) {
        const long mine = r * 1'000'000L + i;
        const auto which = weft::select(
            weft::send_case(out, mine, [&] { relayed_sent.fetch_add(mine); }),
            weft::receive_case(in, [&](std::optional<long> v) { relayed_received.fetch_add(v.value_or(0)); }));
        (which == 0 ? sends : receives).fetch_add(1);
      }
    }));
  }
  std::atomic<long> consumed{0}, consumed_count{0};
  std::thread consumer([out, &consumed, &consumed_count]() mutable {
    for (long v : out) {
      consumed.fetch_add(v);
      consumed_count.fetch_add(1);
    }
  });
  std::atomic<bool> stop{false};
  std::atomic<long> produced{0}, produced_count{0};
  std::thread producer([in, &stop, &produced, &produced_count]() mutable {
    for (long v = 1; !stop.load(); ++v) {
      if (in.send_for(long{v}, 1ms)) {
        produced.fetch_add(v);
        produced_count.fetch_add(1);
      }
    }
  });
  for (auto& f : fibers) f.get();
  stop.store(true);
  producer.join();
  out.close();
  consumer.join();
  // Every select ran exactly one case.
  CHECK(sends.load() + receives.load() == long{relays} * rounds);
  // What the send cases reported sending is what the consumer got.
  CHECK(consumed_count.load() == sends.load());
  CHECK(consumed.load() == relayed_sent.load());
  // What the producer's sends delivered is what the receive cases got, plus what is left.
  long left = 0, left_count = 0;
  while (auto v = in.try_receive()) {
    left += *v.value;
    ++left_count;
  }
  CHECK(produced_count.load() == receives.load() + left_count);
  CHECK(produced.load() == relayed_received.load() + left);
  CHECK(sends.load() > 0);  // both kinds of case ran: the test exercised the mix
  CHECK(receives.load() > 0);
}

TEST_CASE("a select does not pair its own send with its own receive") {
  weft::Channel<int> ch;  // unbuffered, and nobody else on it
  std::optional<int> got;
  const auto which = weft::run([&] {
    return weft::select(weft::send_case(ch, 1), weft::receive_case(ch, [&](std::optional<int> v) { got = v; }),
                        weft::timeout_case(30ms));
  });
  CHECK(which == 2);
  CHECK(!got);
}

TEST_CASE("a channel named twice in one select is fine") {
  weft::Channel<int> ch(1);
  ch.send(3);
  int got = 0;
  const auto which = weft::select(weft::receive_case(ch, [&](auto v) { got = *v; }),
                                  weft::receive_case(ch, [&](auto v) { got = *v; }));
  CHECK(which <= 1);
  CHECK(got == 3);
}

TEST_CASE("closing a channel reaches selects parked on it") {
  weft::Channel<int> quiet, sends_here, receives_here;
  auto sender = weft::spawn(weft::FiberOptions{"select sender"}, [=]() mutable {
    return weft::select(weft::receive_case(quiet), weft::send_case(sends_here, 1));
  });
  std::optional<int> got = 5;
  auto receiver = weft::spawn(weft::FiberOptions{"select receiver"}, [=, &got]() mutable {
    return weft::select(weft::receive_case(quiet), weft::receive_case(receives_here, [&](auto v) { got = v; }));
  });
  REQUIRE(weft_test::wait_parked_on_channel("select sender", 1));
  REQUIRE(weft_test::wait_parked_on_channel("select receiver", 1));
  sends_here.close();
  receives_here.close();
  CHECK_THROWS_AS(sender.get(), weft::channel_closed);  // a parked send case: the error
  CHECK(receiver.get() == 1);                           // a parked receive case: nothing
  CHECK(!got);
  // The quiet channel kept no trace of either select.
  CHECK(!quiet.try_send(1));
  // A send case on a channel already closed throws at once.
  CHECK_THROWS_AS(weft::select(weft::send_case(sends_here, 2), weft::default_case()), weft::channel_closed);
}
