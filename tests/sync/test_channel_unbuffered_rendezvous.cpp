// An unbuffered channel is a rendezvous: a send completes only once a receiver has taken
// its value, whichever side arrives first, fiber or plain thread, on any worker.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "sync/parked.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace {

// The sender parks first; the value is only taken when the receiver comes.
template <class StartSender>
void send_waits_for_receiver(StartSender start_sender) {
  weft::Channel<int> ch;
  std::atomic<bool> sent{false};
  auto join = start_sender([ch, &sent]() mutable {
    ch.send(7);
    sent.store(true);
  });
  weft_test::let_threads_park();
  CHECK(!sent.load());  // catches a send that returns with no receiver (a hidden buffer)
  CHECK(ch.size() == 0);
  CHECK(ch.receive() == 7);
  CHECK(weft_test::eventually([&] { return sent.load(); }));  // catches a lost wake-up
  join();
  // Nothing stayed behind in the channel.
  CHECK(ch.try_receive().status == weft::ReceiveStatus::empty);
}

}  // namespace

TEST_CASE("a fiber's unbuffered send returns only after a plain thread received") {
  send_waits_for_receiver([](auto f) {
    auto u = weft::spawn(weft::FiberOptions{"sender"}, f);
    REQUIRE(weft_test::wait_parked_on_channel("sender", 1));
    return [u]() mutable { u.get(); };
  });
}

TEST_CASE("a plain thread's unbuffered send returns only after a receiver took it") {
  send_waits_for_receiver([](auto f) {
    auto t = std::make_shared<std::thread>(f);
    return [t] { t->join(); };
  });
}

TEST_CASE("try_send on an unbuffered channel succeeds only when a receiver waits") {
  weft::Channel<int> ch;
  CHECK(!ch.try_send(1));  // no receiver: catches try_send parking or buffering
  auto receiver = weft::spawn(weft::FiberOptions{"receiver"}, [ch]() mutable { return ch.receive(); });
  REQUIRE(weft_test::wait_parked_on_channel("receiver", 1));
  CHECK(ch.try_send(5));  // catches a parked receiver not found by try_send
  CHECK(receiver.get() == 5);
  CHECK(!ch.try_send(2));  // the receiver has gone again
}

TEST_CASE("a receiver parked first is handed the value across workers") {
  REQUIRE(weft::current_config().threads >= 2);
  // Fibers spawned from a plain thread go round robin: the pairs straddle the workers.
  weft::Channel<int> ch;
  constexpr int pairs = 50;
  std::vector<weft::Unfuture<std::optional<int>>> receivers;
  for (int i = 0; i < pairs; ++i) {
    receivers.push_back(weft::spawn(weft::FiberOptions{"receiver"}, [ch]() mutable { return ch.receive(); }));
  }
  REQUIRE(weft_test::wait_parked_on_channel("receiver", pairs));
  std::vector<weft::Unfuture<void>> senders;
  for (int i = 0; i < pairs; ++i) senders.push_back(weft::spawn([ch, i]() mutable { ch.send(i); }));
  long sum = 0;
  for (auto& r : receivers) {
    auto v = r.get();
    REQUIRE(v.has_value());
    sum += *v;
  }
  for (auto& s : senders) s.get();
  CHECK(sum == pairs * (pairs - 1) / 2);  // each value to exactly one receiver
}
