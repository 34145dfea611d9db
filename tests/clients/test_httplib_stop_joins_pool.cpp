// cpp-httplib's server, unchanged, listening in a fiber on ONE worker thread (issue 14).
// Server::listen runs a pool of plain threads for the connections; stop() makes listen
// return after it joins them (std::thread::join). A connection kept alive by its client
// keeps its pool thread for up to the keep-alive timeout, so that join waits that long:
// without a cooperative pthread_join the whole worker waited with it, every fiber on it
// stalled. Here a ticker fiber on the same worker keeps its pace while listen() joins.
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr auto kTick = 5ms;
constexpr int kKeepAliveSeconds = 1;

weft_test::StallWatch stall_watch;

}  // namespace

TEST_CASE("cpp-httplib: stop() with a kept-alive connection; listen() joins its pool in a fiber, the worker running on") {
  one_worker();
  httplib::Server server;
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hello", "text/plain"); });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  weft::Unfuture<bool> listening = weft::spawn([&] { return server.listen_after_bind(); });

  // A client on a plain thread whose connection stays open (keep-alive) after its request.
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  const httplib::Result first = client.Get("/hello");
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->body == "hello");

  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  std::this_thread::sleep_for(50ms);  // the ticker is under way
  const auto stop_at = Clock::now();
  weft::spawn([&] { server.stop(); }).get();
  const bool listened = listening.get();  // returns once the pool is joined
  const auto joined_after = Clock::now() - stop_at;
  ticker.finish();
  const auto stall = stall_watch.worst();

  MESSAGE("listen() returned " << ms(joined_after) << " ms after stop(); ticker's worst gap " << ms(ticker.worst_gap())
                               << " ms over " << ticker.ticks() << " ticks (machine stall " << ms(stall) << " ms)");
  CHECK(listened);  // stopped, not failed
  // The join really waited for the kept-alive connection's thread: the point of the test.
  CHECK(joined_after >= 500ms);
  CHECK(joined_after < std::chrono::seconds(kKeepAliveSeconds) + 2s * WEFT_TEST_SLACK + stall);
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}
