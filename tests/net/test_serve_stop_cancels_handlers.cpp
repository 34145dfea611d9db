// Server::stop(grace) always returns (issue 15, item 5): at the end of the grace, a
// handler that ignores its socket and waits on something else (an Event nobody sets, a
// long sleep) is cancelled, so stop() returns shortly after the grace instead of never.
// Without the cancel, stop() waits for ever (the 10 s check fails first).
#include "support/timing.hpp"

#include <weft/net.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using weft::net::TcpStream;

TEST_CASE("handlers waiting on anything but their socket are cancelled at the end of the grace") {
  weft::configure({.threads = 2});
  weft::Event never;
  std::atomic<int> started{0}, cancelled{0};
  auto server = weft::net::serve(weft::net::TcpListener::bind({"127.0.0.1", 0}), [&](TcpStream&) {
    started.fetch_add(1);
    try {
      if (started.load() % 2 == 0) {
        never.wait();
      } else {
        weft::sleep_for(60s);
      }
    } catch (const weft::cancelled_error&) {
      cancelled.fetch_add(1);
      throw;
    }
  });
  const auto addr = server.local_address();
  std::vector<TcpStream> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(TcpStream::connect(addr, 5s));
  while (started.load() < 4) std::this_thread::sleep_for(1ms);

  const auto took = weft_test::took([&] { server.stop(100ms); });
  CHECK(took >= 100ms);
  CHECK_MESSAGE(took < 10s, "stop(100ms) took " << weft_test::ms(took) << " ms");
  CHECK(cancelled.load() == 4);
  // Cancellation is not a handler error worth a report.
  CHECK(server.stats().handler_errors == 0);
}
