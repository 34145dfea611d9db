// Beazley's time bomb: one fiber pushes 10 MB through a plain blocking send() to a peer
// that reads slowly, while a ticker fiber on the same worker sleeps 1 ms at a time. If send
// blocked the worker thread, the ticker would stall for the whole transfer; with the
// shims, send parks whenever the socket buffer is full and the ticker keeps its beat.
// Runs with WEFT_THREADS=1 (tests/CMakeLists.txt), so both fibers share one thread.
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// 10 MB of JSON-shaped text, every line different, so a lost or repeated chunk shows.
std::string ten_megabytes_of_json() {
  std::string s;
  s.reserve(10'500'000);
  s += "[";
  for (int i = 0; s.size() < 10'000'000; ++i) {
    s += "{\"id\":" + std::to_string(i) + ",\"name\":\"item-" + std::to_string(i * 7919 % 100003) +
         "\",\"tags\":[\"a\",\"b\"]},\n";
  }
  s += "{}]";
  return s;
}

}  // namespace

TEST_CASE("a fiber's 10 MB blocking send does not stall a 1 ms ticker on the same worker") {
  const std::string payload = ten_megabytes_of_json();
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);

  // The slow peer, on a plain thread: 16 KiB, then a 1 ms nap.
  std::string received;
  std::thread peer([&] {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(sv[1], buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
      std::this_thread::sleep_for(1ms);
    }
  });

  weft_test::StallWatch watch;
  std::atomic<bool> sending{true};
  weft_test::Clock::duration worst_gap{};
  long ticks = 0;
  ssize_t sent = -1;
  const auto transfer = weft_test::took([&] {
    weft::run([&] {
      auto ticker = weft::spawn([&] {
        auto last = weft_test::Clock::now();
        while (sending.load()) {
          std::this_thread::sleep_for(1ms);  // plain std, made cooperative by the shims
          const auto now = weft_test::Clock::now();
          worst_gap = std::max(worst_gap, now - last);
          last = now;
          ++ticks;
        }
      });
      auto sender = weft::spawn([&] {
        const ssize_t n = ::send(sv[0], payload.data(), payload.size(), 0);
        ::shutdown(sv[0], SHUT_WR);
        sending = false;
        return n;
      });
      sent = sender.get();
      ticker.get();
    });
  });
  peer.join();
  ::close(sv[0]);
  ::close(sv[1]);

  CHECK(sent == static_cast<ssize_t>(payload.size()));
  CHECK(received.size() == payload.size());
  CHECK(received == payload);
  INFO("transfer took " << weft_test::ms(transfer) << " ms, " << ticks << " ticks, worst gap "
                        << weft_test::ms(worst_gap) << " ms, machine stall "
                        << weft_test::ms(watch.worst()) << " ms");
  // The transfer takes hundreds of 1 ms naps on the peer's side; the ticker must have
  // ticked through it rather than once at the end.
  CHECK(ticks > weft_test::ms(transfer) / 4);
  CHECK(worst_gap < 20ms * WEFT_TEST_SLACK + watch.worst());
}
