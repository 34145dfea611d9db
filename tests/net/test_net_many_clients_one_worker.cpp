// Many connections on one worker: a listener fiber accepts and spawns an echo fiber per
// connection; 1,000 client fibers each do 10 request/response rounds at once. Every round
// must come back byte for byte, every fiber must finish, and the whole must take about
// what the same work takes done one client at a time (measured first, in this test): not
// the seconds that lost wake-ups running into deadlines would add.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using weft::net::TcpListener;
using weft::net::TcpStream;
using weft_test::ms;
using weft_test::took;

namespace {

constexpr int kClients = 1000;
constexpr int kRounds = 10;
constexpr std::size_t kMessage = 48;

// Round r of client c: distinct bytes, so a reply sent to the wrong client shows.
std::string message(int c, int r) {
  char text[kMessage + 1];
  std::snprintf(text, sizeof text, "client %04d round %02d %025d", c, r, c * 7919 + r * 104729);
  return std::string(text, kMessage);
}

// The echo server: an accept loop, and a fiber per connection that echoes until the end.
struct EchoServer {
  TcpListener listener = TcpListener::bind({"127.0.0.1", 0});
  std::atomic<int> accepted{0}, active{0}, finished{0}, handler_errors{0};
  std::vector<weft::Unfuture<void>> handlers;
  weft::Unfuture<void> acceptor;

  void start() {
    acceptor = weft::spawn([this] {
      for (;;) {
        TcpStream conn;
        try {
          conn = listener.accept();
        } catch (const std::system_error&) {
          return;  // closed: the test is over
        }
        accepted.fetch_add(1);
        handlers.push_back(weft::spawn([this, c = std::move(conn)]() mutable {
          active.fetch_add(1);
          try {
            char buf[256];
            for (std::size_t n; (n = c.read(buf, sizeof buf, 60s)) > 0;) c.write_all(buf, n, 60s);
          } catch (const std::exception&) {
            handler_errors.fetch_add(1);
          }
          active.fetch_sub(1);
          finished.fetch_add(1);
        }));
      }
    });
  }
  void stop() {
    for (auto& h : handlers) h.get();
    listener.close();
    acceptor.get();
  }
};

// One client: connect, kRounds request/response rounds, close. Returns the good rounds.
int client(const weft::net::SocketAddress& addr, int id) {
  TcpStream s = TcpStream::connect(addr, 30s);
  int good = 0;
  for (int r = 0; r < kRounds; ++r) {
    const std::string m = message(id, r);
    s.write_all(m, 30s);
    char reply[kMessage];
    s.read_exact(reply, kMessage, 30s);
    good += std::string(reply, kMessage) == m;
  }
  return good;
}

}  // namespace

TEST_CASE("1,000 clients x 10 rounds against an echo fiber per connection, all on one worker") {
  weft_test::one_worker();
  // Two descriptors per connection in this one process.
  rlimit lim{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur < 2 * kClients + 200) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 2 * kClients + 200);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
  }
  REQUIRE(lim.rlim_cur >= 2 * kClients + 200);

  weft_test::StallWatch stall_watch;
  weft::run([&] {
    EchoServer server;
    server.start();
    const auto addr = server.listener.local_address();

    // Reference: 100 clients, one after the other.
    constexpr int kSerial = 100;
    int serial_good = 0;
    const auto serial = took([&] {
      for (int i = 0; i < kSerial; ++i) serial_good += client(addr, 100000 + i);
    });
    CHECK(serial_good == kSerial * kRounds);

    std::atomic<int> good{0}, failed{0}, done{0};
    const auto all = took([&] {
      std::vector<weft::Unfuture<void>> clients;
      clients.reserve(kClients);
      for (int i = 0; i < kClients; ++i) {
        clients.push_back(weft::spawn([&, i] {
          try {
            good.fetch_add(client(addr, i));
          } catch (const std::exception& e) {
            if (failed.fetch_add(1) < 5) MESSAGE("client " << i << ": " << e.what());
          }
          done.fetch_add(1);
        }));
      }
      for (auto& c : clients) c.get();
    });
    server.stop();

    const auto expected = serial * (kClients / kSerial);
    MESSAGE(kSerial << " clients one at a time: " << ms(serial) << " ms; " << kClients << " at once: " << ms(all)
                    << " ms (" << ms(expected) << " ms at the serial rate)");
    CHECK(done.load() == kClients);
    CHECK(failed.load() == 0);
    CHECK(good.load() == kClients * kRounds);
    CHECK(server.accepted.load() == kClients + kSerial);
    CHECK(server.finished.load() == kClients + kSerial);
    CHECK(server.active.load() == 0);
    CHECK(server.handler_errors.load() == 0);
    // Concurrency may cost something (1,000 open sockets), but not a multiple.
    CHECK(all < expected * 3 + 500ms * WEFT_TEST_SLACK + stall_watch.worst());
  });
}
