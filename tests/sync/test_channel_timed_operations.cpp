// The forms that may give up: try_send/try_receive never wait; send_for/until and
// receive_for/until wait at most until their deadline, tell a timeout from a close, and a
// send that gave up leaves its (move-only) value with the caller.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "support/timing.hpp"
#include "sync/timed.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft::ReceiveStatus;
using weft_test::ms;
using weft_test::took;

using weft_test::in_fiber_and_thread;
using weft_test::late_allowed;
using weft_test::wait_for;

TEST_CASE("receive_for times out on an empty channel, after about its timeout") {
  weft::Channel<int> ch(1);
  in_fiber_and_thread([ch]() mutable {
    weft::Received<int> r;
    const auto t = took([&] { r = ch.receive_for(wait_for); });
    CHECK(r.status == ReceiveStatus::timed_out);
    CHECK(!r.value);
    CHECK(!r);
    CHECK(ms(t) >= ms(wait_for) - 1);  // catches a wait that returns at once
    CHECK(t < wait_for + late_allowed);
  });
}

TEST_CASE("receive_until returns a value sent meanwhile, and closed once closed") {
  weft::Channel<int> ch;
  std::thread sender([ch]() mutable {
    std::this_thread::sleep_for(20ms);
    ch.send(4);
    ch.close();
  });
  auto r = weft::run([&] { return ch.receive_until(std::chrono::steady_clock::now() + 10s); });
  CHECK(r.status == ReceiveStatus::received);
  REQUIRE(r.value);
  CHECK(*r.value == 4);
  auto after = weft::run([&] { return ch.receive_until(std::chrono::system_clock::now() + 10s); });
  CHECK(after.status == ReceiveStatus::closed);  // catches a close reported as a timeout
  sender.join();
}

TEST_CASE("send_for on a full channel times out and leaves the move-only value with the caller") {
  weft::Channel<std::unique_ptr<int>> ch(1);
  CHECK(ch.try_send(std::make_unique<int>(1)));
  in_fiber_and_thread([ch]() mutable {
    auto mine = std::make_unique<int>(2);
    bool sent = true;
    const auto t = took([&] { sent = ch.send_for(std::move(mine), wait_for); });
    CHECK(!sent);
    REQUIRE(mine != nullptr);  // catches a failed send that moved from the value anyway
    CHECK(*mine == 2);
    CHECK(ms(t) >= ms(wait_for) - 1);
    CHECK(t < wait_for + late_allowed);
    CHECK(!ch.try_send(std::move(mine)));
    CHECK(mine != nullptr);
  });
  CHECK(ch.size() == 1);
}

TEST_CASE("send_until succeeds once a receiver makes room") {
  weft::Channel<std::unique_ptr<int>> ch(1);
  ch.send(std::make_unique<int>(1));
  std::thread receiver([ch]() mutable {
    std::this_thread::sleep_for(20ms);
    (void)ch.receive();
  });
  auto v = std::make_unique<int>(2);
  CHECK(weft::run([&] { return ch.send_until(std::move(v), std::chrono::steady_clock::now() + 10s); }));
  CHECK(v == nullptr);
  receiver.join();
  auto last = ch.try_receive();
  REQUIRE(last);
  CHECK(**last.value == 2);
}

TEST_CASE("try_receive says empty, then received, then closed") {
  weft::Channel<int> ch(2);
  CHECK(ch.try_receive().status == ReceiveStatus::empty);
  CHECK(ch.try_send(9));
  auto r = ch.try_receive();
  CHECK(r.status == ReceiveStatus::received);
  CHECK(r.value == 9);
  ch.close();
  CHECK(ch.try_receive().status == ReceiveStatus::closed);
}

TEST_CASE("a zero or negative timeout does not wait but still takes what is ready") {
  weft::Channel<int> ch(1);
  CHECK(ch.receive_for(0ms).status == ReceiveStatus::timed_out);
  CHECK(ch.send_for(5, -1s));  // room: no wait needed
  CHECK(!ch.send_for(6, 0ms));
  CHECK(ch.receive_for(-5ms).value == 5);
}

TEST_CASE("a timed-out receiver does not swallow a value sent right after") {
  // Many short timeouts racing sends: every value sent is received by a later call.
  weft::Channel<int> ch;
  constexpr int values = 2000;
  std::thread sender([ch]() mutable {
    for (int i = 0; i < values; ++i) ch.send(i);
    ch.close();
  });
  long sum = 0;
  int got = 0;
  weft::run([&] {
    for (;;) {
      auto r = ch.receive_for(std::chrono::microseconds(50));
      if (r.status == ReceiveStatus::closed) break;
      if (r) {
        sum += *r.value;
        ++got;
      }
    }
  });
  sender.join();
  CHECK(got == values);  // catches a value handed to a receiver that had already timed out
  CHECK(sum == long{values} * (values - 1) / 2);
}

TEST_CASE("the timed sends take an lvalue of a copyable type and leave it as it was") {
  weft::Channel<std::string> ch(1);
  const std::string hello = "hello";
  CHECK(ch.send_for(hello, 10ms));
  CHECK(!ch.send_until(hello, std::chrono::steady_clock::now() + 10ms));  // full
  CHECK(hello == "hello");
  CHECK(ch.receive() == "hello");
}
