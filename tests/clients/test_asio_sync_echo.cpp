// Boost.Asio's synchronous sockets, unchanged (io_context, ip::tcp::acceptor and socket,
// blocking accept, connect, read and write), in fibers that all run on ONE worker thread
// (issue 16, item 6). Asio's blocking calls go straight to accept/connect/recvmsg/sendmsg
// and, on EAGAIN, to poll() on the socket; the shims park the fiber there.
//
// An echo server runs in a fiber: it accepts each connection and serves it in a fiber of
// its own, which reads a 64 KiB message, holds it for 50 ms (a slow backend), and writes it
// back. 20 clients, each sending its own message and reading the echo, finish in about
// 50 ms together whether they are 20 fibers on the server's worker or 20 plain threads;
// one plain thread sending them in turn takes 20 x 50 ms. That reference runs in the same
// test, against the same server.
#include <weft/weft.hpp>

#include "support/fan_out.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <boost/asio.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using boost::asio::ip::tcp;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kClients = 20;
constexpr std::size_t kMessage = 64 * 1024;  // more than one read and write each way
constexpr auto kHold = 50ms;

weft_test::StallWatch stall_watch;

// The message client i sends: it names i, so an echo sent to the wrong client shows.
std::string message_for(int i) {
  std::string m = "client " + std::to_string(i) + ":";
  while (m.size() < kMessage) m += static_cast<char>('a' + (m.size() + i) % 26);
  return m;
}

// An echo server in a fiber: accepts `connections` connections on 127.0.0.1 (an ephemeral
// port) and serves each in its own fiber; finished once all have been served.
class FiberEchoServer {
 public:
  explicit FiberEchoServer(int connections) {
    weft::Promise<unsigned short> bound;
    port_ = bound.get_unfuture();
    done_ = weft::spawn([this, connections, bound = std::move(bound)]() mutable { serve(connections, bound); });
  }
  unsigned short port() const { return port_.get(); }
  // Waits for every connection to be served; rethrows what went wrong in the server.
  void join() { done_.get(); }

 private:
  static void echo(tcp::socket s) {
    std::string buffer(kMessage, '\0');
    boost::asio::read(s, boost::asio::buffer(buffer));  // the whole message: many reads
    std::this_thread::sleep_for(kHold);
    boost::asio::write(s, boost::asio::buffer(buffer));
  }

  void serve(int connections, weft::Promise<unsigned short>& bound) {
    boost::asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    bound.set_value(acceptor.local_endpoint().port());
    std::vector<weft::Unfuture<void>> handlers;
    for (int i = 0; i < connections; ++i) {
      tcp::socket s(io);
      acceptor.accept(s);
      handlers.push_back(weft::spawn([s = std::move(s)]() mutable { echo(std::move(s)); }));
    }
    weft::when_all(handlers).get();
  }

  weft::Unfuture<unsigned short> port_;
  weft::Unfuture<void> done_;
};

struct Echoed {
  std::string error;
  bool intact = false;  // the echo is this client's message, byte for byte
  std::thread::id thread;
};

// One client with Asio's blocking calls, as any program would write it.
Echoed echo_once(unsigned short port, int i) {
  Echoed out;
  out.thread = std::this_thread::get_id();
  try {
    boost::asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    const std::string sent = message_for(i);
    boost::asio::write(s, boost::asio::buffer(sent));
    std::string got(kMessage, '\0');
    boost::asio::read(s, boost::asio::buffer(got));
    out.intact = got == sent;
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace

TEST_CASE("Boost.Asio sync sockets: an echo server in a fiber, 20 client fibers on the same worker, as 20 threads") {
  one_worker();

  // References in the same run, against the same fiber server: 20 plain threads at once,
  // then one plain thread taking the 20 in turn.
  std::vector<Echoed> by_threads;
  Clock::duration threads_took{}, serial_took{}, fibers_took{};
  {
    FiberEchoServer server(2 * kClients);
    const unsigned short port = server.port();
    by_threads = weft_test::on_threads(kClients, [&](int i) { return echo_once(port, i); }, threads_took);
    serial_took = weft_test::took([&] {
      for (int i = 0; i < kClients; ++i) REQUIRE(echo_once(port, i).intact);
    });
    server.join();
  }
  for (const Echoed& e : by_threads) {
    REQUIRE_MESSAGE(e.error.empty(), e.error);
    REQUIRE(e.intact);
  }

  stall_watch.reset();
  FiberEchoServer server(kClients);
  const unsigned short port = server.port();
  const std::vector<Echoed> results =
      weft_test::in_fibers(kClients, [&](int i) { return echo_once(port, i); }, fibers_took);
  server.join();  // every connection served, no exception in the server's fibers
  const auto stall = stall_watch.worst();

  std::set<std::thread::id> threads;
  for (const Echoed& e : results) {
    // EAGAIN leaking out of a shim reads as an asio error ("Resource temporarily unavailable").
    CHECK_MESSAGE(e.error.empty(), e.error);
    CHECK(e.intact);  // a short read or write taken for a whole one, or crossed connections
    threads.insert(e.thread);
  }
  MESSAGE(kClients << " echoes held 50 ms each by a fiber server: " << kClients << " client fibers on its worker "
                   << ms(fibers_took) << " ms, " << kClients << " plain threads " << ms(threads_took)
                   << " ms, one plain thread in turn " << ms(serial_took) << " ms (machine stall " << ms(stall)
                   << " ms)");
  CHECK(threads.size() == 1);  // all on the one worker
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  // The reference is serial: the server's holds add up for one thread.
  CHECK(serial_took >= kClients * kHold);
  // The fiber server held the threads' 20 echoes at once: its worker was not blocked by a
  // connection's read or its hold.
  CHECK_MESSAGE(threads_took < serial_took / 4 + stall, "threads " << ms(threads_took) << " ms");
  // Clients and server share one worker and still overlap as the threads do; a worker
  // blocked in any of their calls would serialise the holds (a second) or hang.
  CHECK_MESSAGE(fibers_took < 2 * threads_took + 100ms * WEFT_TEST_SLACK + stall,
                "fibers " << ms(fibers_took) << " ms, threads " << ms(threads_took) << " ms");
  CHECK(fibers_took < serial_took / 4 + stall);
}
