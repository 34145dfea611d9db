// UdpSocket: send_to/receive_from between two sockets with the sender's address, a
// datagram longer than the buffer (truncated, size = the buffer's), zero-length datagrams,
// receive with a timeout, and connect() then send/receive (which also filters other
// senders). In fibers and on plain threads, over IPv4 and IPv6 loopback.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::Datagram;
using weft::net::SocketAddress;
using weft::net::UdpSocket;

TEST_CASE("send_to and receive_from between two sockets, with the sender's address") {
  for (Where where : {Where::fiber, Where::thread}) {
    for (const char* ip : {"127.0.0.1", "::1"}) {
      CAPTURE(where_name(where));
      CAPTURE(ip);
      on(where, [where, ip] {
        UdpSocket a = UdpSocket::bind({ip, 0});
        UdpSocket b = UdpSocket::bind({ip, 0});
        const SocketAddress a_addr = a.local_address(), b_addr = b.local_address();
        CHECK(a_addr.host() == ip);
        CHECK(a_addr.port() != 0);
        // b waits first (parked or blocked in poll); a sends a moment later.
        Peer receiver(where, [&] {
          char buf[64];
          const Datagram d = b.receive_from(buf, sizeof buf, 5s);
          CHECK(d.size == 5);
          CHECK_FALSE(d.truncated);
          CHECK(std::string(buf, d.size) == "hello");
          CHECK(d.from == a_addr);
          b.send_to("reply!", 6, d.from, 5s);
        });
        weft::sleep_for(20ms);
        a.send_to("hello", 5, b_addr, 5s);
        char buf[64];
        const Datagram r = a.receive_from(buf, sizeof buf, 5s);
        CHECK(r.size == 6);
        CHECK(std::string(buf, r.size) == "reply!");
        CHECK(r.from == b_addr);
        receiver.join();
        // Datagrams keep their boundaries.
        a.send_to("one", 3, b_addr, 5s);
        a.send_to("two!", 4, b_addr, 5s);
        CHECK(b.receive(buf, sizeof buf, 5s) == 3);
        CHECK(b.receive(buf, sizeof buf, 5s) == 4);
        CHECK(std::string(buf, 4) == "two!");
      });
    }
  }
}

TEST_CASE("an unbound socket gets a port at its first send, which the receiver sees") {
  weft::run([] {
    UdpSocket b = UdpSocket::bind({"127.0.0.1", 0});
    UdpSocket a = UdpSocket::open();
    a.send_to("x", 1, b.local_address(), 5s);
    char buf[4];
    const Datagram d = b.receive_from(buf, sizeof buf, 5s);
    CHECK(d.size == 1);
    CHECK(d.from.port() == a.local_address().port());
    CHECK(d.from.port() != 0);
  });
}

TEST_CASE("a datagram longer than the buffer is truncated to the buffer's size, the rest lost") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      UdpSocket a = UdpSocket::bind({"127.0.0.1", 0});
      UdpSocket b = UdpSocket::bind({"127.0.0.1", 0});
      std::string big(1000, '\0');
      for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
      a.send_to(big.data(), big.size(), b.local_address(), 5s);
      a.send_to("next", 4, b.local_address(), 5s);
      a.send_to(big.data(), 10, b.local_address(), 5s);
      char buf[16];
      std::memset(buf, '#', sizeof buf);
      const Datagram d = b.receive_from(buf, 10, 5s);
      CHECK(d.truncated);
      CHECK(d.size == 10);
      CHECK(std::string(buf, 10) == big.substr(0, 10));
      CHECK(buf[10] == '#');  // not a byte past the buffer
      CHECK(d.from == a.local_address());
      // The next datagram is the next one sent, not the rest of the long one.
      const Datagram n = b.receive_from(buf, sizeof buf, 5s);
      CHECK_FALSE(n.truncated);
      CHECK(std::string(buf, n.size) == "next");
      // Exactly the buffer's size is not a truncation.
      const Datagram exact = b.receive_from(buf, 10, 5s);
      CHECK(exact.size == 10);
      CHECK_FALSE(exact.truncated);
    });
  }
}

TEST_CASE("a zero-length datagram is received as size 0, not truncated") {
  weft::run([] {
    UdpSocket a = UdpSocket::bind({"127.0.0.1", 0});
    UdpSocket b = UdpSocket::bind({"127.0.0.1", 0});
    a.send_to("", 0, b.local_address(), 5s);
    char buf[8];
    const Datagram d = b.receive_from(buf, sizeof buf, 5s);
    CHECK(d.size == 0);
    CHECK_FALSE(d.truncated);
    CHECK(d.from == a.local_address());
  });
}

TEST_CASE("receive with a timeout throws timeout_error after about the timeout") {
  stall_watch().reset();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      UdpSocket s = UdpSocket::bind({"127.0.0.1", 0});
      const auto ref = took([] { weft::sleep_for(100ms); });
      char buf[8];
      for (int form = 0; form < 2; ++form) {
        CAPTURE(form);
        const auto d = took([&] {
          try {
            if (form == 0) {
              (void)s.receive_from(buf, sizeof buf, 100ms);
            } else {
              (void)s.receive(buf, sizeof buf, 100ms);
            }
            FAIL_CHECK("received something");
          } catch (const weft::net::timeout_error& e) {
            CHECK(e.code() == std::errc::timed_out);
          }
        });
        CHECK(d >= 100ms);
        CHECK_MESSAGE(d < ref + late_ok(), "took " << ms(d) << " ms, sleep_for(100ms) " << ms(ref));
      }
      // The socket still works.
      UdpSocket a = UdpSocket::open();
      a.send_to("ok", 2, s.local_address(), 5s);
      CHECK(s.receive(buf, sizeof buf, 5s) == 2);
    });
  }
}

TEST_CASE("connect() then send/receive, and only the connected peer's datagrams come in") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      UdpSocket a = UdpSocket::bind({"127.0.0.1", 0});
      UdpSocket b = UdpSocket::bind({"127.0.0.1", 0});
      UdpSocket stranger = UdpSocket::bind({"127.0.0.1", 0});
      a.connect(b.local_address());
      b.connect(a.local_address());
      stranger.send_to("noise", 5, b.local_address(), 5s);  // dropped: b is connected to a
      Peer echo(where, [&] {
        char buf[64];
        const std::size_t n = b.receive(buf, sizeof buf, 5s);
        b.send(buf, n, 5s);
      });
      weft::sleep_for(10ms);
      a.send("ping", 4, 5s);
      char buf[64];
      const Datagram d = a.receive_from(buf, sizeof buf, 5s);
      CHECK(std::string(buf, d.size) == "ping");
      CHECK(d.from == b.local_address());
      echo.join();
      // Nothing else is queued for b: the stranger's datagram was never let in.
      CHECK_THROWS_AS((void)b.receive(buf, sizeof buf, 0ms), weft::net::timeout_error);
      // send without a peer fails.
      UdpSocket lone = UdpSocket::open();
      CHECK_THROWS_AS(lone.send("x", 1, 5s), std::system_error);
    });
  }
}
