// close() with operations parked on both sides, fibers on both workers and plain threads:
// parked senders wake and throw channel_closed, parked receivers wake with nothing, and no
// value sent before close() is lost.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "sync/parked.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

TEST_CASE("senders parked on a full channel wake with channel_closed; the buffer survives") {
  weft::Channel<int> ch(2);
  ch.send(1);
  ch.send(2);  // full: every sender below parks
  std::atomic<int> threw{0}, returned{0};
  auto send_one = [ch, &threw, &returned](int v) mutable {
    try {
      ch.send(v);
      returned.fetch_add(1);
    } catch (const weft::channel_closed&) {
      threw.fetch_add(1);
    }
  };
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < 4; ++i) fibers.push_back(weft::spawn(weft::FiberOptions{"sender"}, send_one, 100 + i));
  std::thread thread(send_one, 200);
  REQUIRE(weft_test::wait_parked_on_channel("sender", 4));
  weft_test::let_threads_park();
  ch.close();
  for (auto& f : fibers) f.get();  // catches a parked sender never woken (the test times out)
  thread.join();
  CHECK(threw.load() == 5);  // catches a woken sender that returns as if it had sent
  CHECK(returned.load() == 0);
  // What was sent before close() is all there, in order, and nothing of the refused sends.
  CHECK(ch.receive() == 1);
  CHECK(ch.receive() == 2);
  CHECK(ch.receive() == std::nullopt);
}

TEST_CASE("receivers parked on an empty channel wake with nothing when it closes") {
  weft::Channel<int> ch;
  std::atomic<int> got_nothing{0}, got_value{0};
  auto receive_one = [ch, &got_nothing, &got_value]() mutable {
    (ch.receive() ? got_value : got_nothing).fetch_add(1);
  };
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < 4; ++i) fibers.push_back(weft::spawn(weft::FiberOptions{"receiver"}, receive_one));
  std::thread thread(receive_one);
  REQUIRE(weft_test::wait_parked_on_channel("receiver", 4));
  weft_test::let_threads_park();
  ch.close();
  for (auto& f : fibers) f.get();
  thread.join();
  CHECK(got_nothing.load() == 5);
  CHECK(got_value.load() == 0);
}

TEST_CASE("a closed channel gives every buffered value before it reports the close") {
  weft::Channel<int> ch(10);
  for (int i = 0; i < 10; ++i) ch.send(i);
  ch.close();
  CHECK(ch.closed());
  CHECK(ch.size() == 10);  // catches close() dropping the buffer
  // A fiber and a thread take turns: the values still come in order, then nothing.
  std::vector<int> got;
  for (int i = 0; i < 5; ++i) {
    got.push_back(*weft::run([&] { return ch.receive(); }));
    std::thread([&] { got.push_back(*ch.receive()); }).join();
  }
  CHECK(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(ch.receive() == std::nullopt);
  CHECK(ch.try_receive().status == weft::ReceiveStatus::closed);  // and stays so
  CHECK(ch.receive_for(std::chrono::seconds(10)).status == weft::ReceiveStatus::closed);
}

TEST_CASE("a fiber ranging over a channel gets all a thread sent before closing it") {
  // The close() comes right behind the last send, while the consumer may be parked or
  // still draining: either way it must see all 1000 values before the end.
  weft::Channel<int> ch(4);
  std::atomic<long> sum{0};
  std::atomic<int> received{0};
  auto consumer = weft::spawn([ch, &sum, &received]() mutable {
    for (int v : ch) {
      sum.fetch_add(v);
      received.fetch_add(1);
    }
  });
  std::thread producer([ch]() mutable {
    for (int i = 1; i <= 1000; ++i) ch.send(i);
    ch.close();
  });
  producer.join();
  consumer.get();
  CHECK(received.load() == 1000);
  CHECK(sum.load() == 1000 * 1001 / 2);
}
