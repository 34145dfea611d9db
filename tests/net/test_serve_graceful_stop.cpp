// Server::stop(grace): no request the server has read goes unanswered, idle connections
// end at once, a handler stuck writing is cut at the deadline, and a handler may stop its
// own server.
#include "support/timing.hpp"

#include <weft/net.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft::net::TcpStream;

namespace {

// Reads one '\n'-terminated line into `line` (without the '\n'); false at the end of the
// stream. `pending` keeps what came after it.
bool read_line(TcpStream& s, std::string& pending, std::string& line) {
  for (;;) {
    if (const auto eol = pending.find('\n'); eol != std::string::npos) {
      line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      return true;
    }
    char buf[512];
    const std::size_t n = s.read(buf, sizeof buf);
    if (n == 0) return false;
    pending.append(buf, n);
  }
}

}  // namespace

TEST_CASE("stop under load: every request read is answered, then everyone is let go") {
  std::atomic<long> requests_read{0};
  auto server = weft::net::serve(weft::net::TcpListener::bind({"127.0.0.1", 0}), [&](TcpStream& conn) {
    std::string pending, line;
    while (read_line(conn, pending, line)) {
      requests_read.fetch_add(1, std::memory_order_relaxed);
      weft::sleep_for(1ms);  // some work, so that stop() finds handlers in the middle of it
      conn.write_all(line + "\n");
    }
  });
  const auto addr = server.local_address();

  constexpr int kClients = 100;
  std::atomic<long> answered{0}, unanswered{0};
  std::atomic<int> ended{0};
  std::vector<weft::Unfuture<void>> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(weft::spawn([&, c] {
      try {
        TcpStream s = TcpStream::connect(addr, 5s);
        std::string pending, line;
        for (long i = 0;; ++i) {
          const std::string request = std::to_string(c) + ":" + std::to_string(i);
          s.write_all(request + "\n", 5s);
          if (!read_line(s, pending, line)) {
            unanswered.fetch_add(1);  // the server ended the stream before reading it
            break;
          }
          REQUIRE(line == request);
          answered.fetch_add(1);
        }
      } catch (const std::system_error& e) {
        // A request sent after the server shut its side is reset, never answered: fine.
        CHECK_MESSAGE(weft::net::is_disconnect(e), e.what());
      }
      ended.fetch_add(1);
    }));
  }
  // Whatever fails below, the clients end (the server stops) and are joined before the
  // counters they write go out of scope.
  struct JoinClients {
    weft::net::Server& server;
    std::vector<weft::Unfuture<void>>& clients;
    ~JoinClients() {
      try {
        server.stop(5s);
      } catch (...) {
      }
      for (auto& c : clients) c.wait();
    }
  } join_clients{server, clients};
  // Traffic first (a slow build, e.g. under a sanitizer, may need longer to connect).
  std::this_thread::sleep_for(300ms);
  for (const auto give_up = weft_test::Clock::now() + 10s; answered.load() == 0 && weft_test::Clock::now() < give_up;) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(answered.load() > 0);
  const auto took = weft_test::took([&] { server.stop(5s); });
  // Handlers between requests stop at once, busy ones after their 1 ms of work.
  CHECK_MESSAGE(took < 2s, "stop took " << weft_test::ms(took) << " ms");
  CHECK(server.stats().active == 0);
  for (auto& c : clients) c.get();
  CHECK(ended.load() == kClients);
  // What the server read, it answered: every request counted there came back to a client.
  CHECK(answered.load() == requests_read.load());
  CHECK(server.stats().handler_errors == 0);
  // The listener is gone: nobody new gets in.
  CHECK_THROWS_AS(TcpStream::connect(addr, 1s), std::system_error);
}

TEST_CASE("at the grace deadline a handler stuck writing is cut off") {
  std::atomic<bool> write_failed{false};
  auto server = weft::net::serve(weft::net::TcpListener::bind({"127.0.0.1", 0}), [&](TcpStream& conn) {
    const std::string chunk(1 << 20, 'x');
    try {
      for (;;) conn.write_all(chunk);  // the client never reads: this blocks for good
    } catch (const std::system_error& e) {
      write_failed = true;
      throw;  // a disconnect, so serve() does not report it
    }
  });
  TcpStream client = TcpStream::connect(server.local_address());
  std::this_thread::sleep_for(200ms);  // the handler fills the socket buffers and parks
  REQUIRE(server.stats().active == 1);
  const auto grace = 300ms;
  const auto took = weft_test::took([&] { server.stop(grace); });
  CHECK(write_failed.load());
  CHECK(took >= grace);
  CHECK_MESSAGE(took < grace + 1s * WEFT_TEST_SLACK, "stop took " << weft_test::ms(took) << " ms");
  CHECK(server.stats().active == 0);
}

TEST_CASE("a handler may stop its own server") {
  // Atomic: the handler learns of `server` only through the client's bytes over TCP, an
  // ordering ThreadSanitizer cannot see.
  std::atomic<weft::net::Server*> self{nullptr};
  std::atomic<bool> stop_returned{false};
  auto server = weft::net::serve(weft::net::TcpListener::bind({"127.0.0.1", 0}), [&](TcpStream& conn) {
    char c;
    if (conn.read(&c, 1) == 1 && c == 'q') {
      self.load()->stop(1s);
      stop_returned = true;
      conn.write_all("bye");
    }
  });
  self.store(&server);
  TcpStream idle = TcpStream::connect(server.local_address());  // stopped along the way
  TcpStream quitter = TcpStream::connect(server.local_address());
  quitter.write_all("q");
  char reply[3];
  quitter.read_exact(reply, sizeof reply, 5s);
  CHECK(std::string(reply, 3) == "bye");
  CHECK(stop_returned.load());
  char c;
  CHECK(idle.read(&c, 1, 5s) == 0);  // the idle connection was ended
  server.wait();                     // the quitter's handler has returned too
  CHECK(server.stats().active == 0);
}

TEST_CASE("the connection limit holds new clients in the queue until a handler returns") {
  std::atomic<int> running{0}, most{0};
  auto server = weft::net::serve(
      weft::net::TcpListener::bind({"127.0.0.1", 0}),
      [&](TcpStream& conn) {
        const int now = running.fetch_add(1) + 1;
        for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
        }
        char c;
        while (conn.read(&c, 1) == 1) conn.write_all(&c, 1);
        running.fetch_sub(1);
      },
      {.max_connections = 3});
  std::vector<TcpStream> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(TcpStream::connect(server.local_address()));
  for (int i = 0; i < 3; ++i) {
    clients[i].write_all("a");
    char c;
    CHECK(clients[i].read(&c, 1, 5s) == 1);
  }
  // The fourth is connected (the kernel's queue took it) but not served.
  clients[3].write_all("b");
  char c;
  CHECK_THROWS_AS(clients[3].read(&c, 1, 200ms), weft::net::timeout_error);
  CHECK(server.stats().active == 3);
  clients[0].close();  // its handler returns: the fourth gets its turn
  CHECK(clients[3].read(&c, 1, 5s) == 1);
  CHECK(c == 'b');
  CHECK(most.load() == 3);
  server.stop(1s);
}
