// Connecting and naming: ECONNREFUSED from a closed port (with the address in the
// message), SocketAddress's parse/constructor errors and to_string round trips, resolve()
// of localhost and of a name that cannot exist (resolve_error in resolve_category()),
// TcpStream::connect by name, and lookups in fibers that leave their worker free. In
// fibers and on plain threads; fibers share one worker (WEFT_THREADS=1 too).
//
// To see where resolve() runs the lookup, this program interposes getaddrinfo: for the
// name kSlowName it notes the caller, takes 200 ms, then answers as for "localhost".
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"
#include "support/one_worker.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::SocketAddress;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

constexpr const char* kSlowName = "slow-localhost.weft-test";
std::atomic<int> slow_calls{0}, slow_calls_in_fiber{0}, slow_in_flight{0}, slow_most_in_flight{0};

}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  using Fn = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static const Fn next = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  if (node != nullptr && std::strcmp(node, kSlowName) == 0) {
    slow_calls.fetch_add(1);
    if (weft::in_fiber()) slow_calls_in_fiber.fetch_add(1);
    const int now = slow_in_flight.fetch_add(1) + 1;
    for (int m = slow_most_in_flight.load(); now > m && !slow_most_in_flight.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(200ms);
    slow_in_flight.fetch_sub(1);
    node = "localhost";
  }
  return next(node, service, hints, res);
}

namespace {

// A port on 127.0.0.1 where nothing listens (it was free a moment ago).
std::uint16_t closed_port() {
  TcpListener l = TcpListener::bind({"127.0.0.1", 0});
  return l.local_address().port();
}

bool is_loopback(const SocketAddress& a) {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.data());
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.family() == AF_INET6) return a.host() == "::1";
  return false;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("connecting to a closed port throws ECONNREFUSED with the address in the message") {
  weft_test::one_worker();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      const SocketAddress addr("127.0.0.1", closed_port());
      int error = 0;
      std::string what;
      try {
        (void)TcpStream::connect(addr, 5s);
      } catch (const weft::net::timeout_error& e) {
        FAIL_CHECK("timed out: " << e.what());
      } catch (const std::system_error& e) {
        error = e.code().value();
        what = e.what();
        CHECK(e.code().category() == std::generic_category());
      }
      CHECK_MESSAGE(error == ECONNREFUSED, "errno " << error << ": " << what);
      CHECK_MESSAGE(contains(what, addr.to_string()), what);
      // By name, every address refuses: the last one's error comes out.
      CHECK_THROWS_WITH_AS((void)TcpStream::connect("localhost", addr.port(), 5s),
                           doctest::Contains(addr.to_string().c_str()), std::system_error);
      try {
        (void)TcpStream::connect("localhost", addr.port(), 5s);
      } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::connection_refused);
      }
    });
  }
}

TEST_CASE("binding a port that a listener holds throws EADDRINUSE with the address in the message") {
  TcpListener first = TcpListener::bind({"127.0.0.1", 0});
  const SocketAddress addr = first.local_address();
  for (bool reuse : {true, false}) {
    CAPTURE(reuse);
    try {
      TcpListener second = TcpListener::bind(addr, {.reuse_address = reuse});
      FAIL_CHECK("bound twice");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::address_in_use);
      CHECK_MESSAGE(contains(e.what(), addr.to_string()), e.what());
    }
  }
  // Unless both ask for SO_REUSEPORT.
  TcpListener shared1 = TcpListener::bind({"127.0.0.1", 0}, {.reuse_port = true});
  CHECK_NOTHROW(TcpListener::bind(shared1.local_address(), {.reuse_port = true}));
}

TEST_CASE("SocketAddress rejects what is not a numeric address and port with std::invalid_argument") {
  for (const char* text : {"1.2.3", "[::1]", "1.2.3.4:70000", "::1:80", "", ":80", "1.2.3.4:", "1.2.3.4:8x",
                           "1.2.3.4:-1", "1.2.3.4: 80", "1.2.3.4:99999999999", "localhost:80", "[::1:80",
                           "1.2.3.4.5:80", "256.1.1.1:80", "[1.2.3.4:80"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(SocketAddress::parse(text), std::invalid_argument);
  }
  // The message shows the input.
  CHECK_THROWS_WITH_AS(SocketAddress::parse("::1:80"), doctest::Contains("::1:80"), std::invalid_argument);
  for (const char* ip : {"1.2.3", "localhost", "", "1.2.3.4 ", "[::1]", "::1::2", "1.2.3.4:80"}) {
    CAPTURE(ip);
    CHECK_THROWS_AS(SocketAddress(ip, 80), std::invalid_argument);
  }
  CHECK_THROWS_AS(SocketAddress(std::string(200, '1'), 80), std::invalid_argument);
  CHECK_THROWS_AS(SocketAddress::unix_path(""), std::invalid_argument);
  CHECK_THROWS_AS(SocketAddress::unix_path("/tmp/" + std::string(200, 'x')), std::invalid_argument);
  CHECK_THROWS_AS(SocketAddress::unix_path("@" + std::string(200, 'x')), std::invalid_argument);
  sockaddr_storage big{};
  big.ss_family = AF_INET;
  CHECK_THROWS_AS(SocketAddress::from(reinterpret_cast<sockaddr*>(&big), sizeof big + 1), std::invalid_argument);
}

TEST_CASE("SocketAddress to_string round trips for IPv4, IPv6 and Unix addresses") {
  const SocketAddress v4("127.0.0.1", 8080);
  CHECK(v4.family() == AF_INET);
  CHECK(v4.port() == 8080);
  CHECK(v4.host() == "127.0.0.1");
  CHECK(v4.to_string() == "127.0.0.1:8080");
  CHECK(SocketAddress::parse(v4.to_string()) == v4);

  for (const auto& row : {std::tuple{"::1", 8080, "[::1]:8080"}, std::tuple{"2001:db8::1", 443, "[2001:db8::1]:443"},
                                std::tuple{"::", 0, "[::]:0"}, std::tuple{"::ffff:1.2.3.4", 65535, "[::ffff:1.2.3.4]:65535"},
                                std::tuple{"2001:DB8:0:0:0:0:0:2", 1, "[2001:db8::2]:1"}}) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const char* ip = std::get<0>(row);
    const int port = std::get<1>(row);
    const char* text = std::get<2>(row);
    CAPTURE(ip);
    const SocketAddress v6(ip, static_cast<std::uint16_t>(port));
    CHECK(v6.family() == AF_INET6);
    CHECK(v6.port() == port);
    CHECK(v6.to_string() == text);
    CHECK(SocketAddress::parse(v6.to_string()) == v6);
  }
  CHECK(SocketAddress::parse("0.0.0.0:0") == SocketAddress("0.0.0.0", 0));
  CHECK_FALSE(SocketAddress("127.0.0.1", 1) == SocketAddress("127.0.0.1", 2));
  CHECK_FALSE(SocketAddress("127.0.0.1", 1) == SocketAddress("::ffff:127.0.0.1", 1));

  const SocketAddress path = SocketAddress::unix_path("/tmp/weft-x.sock");
  CHECK(path.family() == AF_UNIX);
  CHECK(path.port() == 0);
  CHECK(path.to_string() == "/tmp/weft-x.sock");
  CHECK(SocketAddress::unix_path(path.to_string()) == path);
  const SocketAddress abstract = SocketAddress::unix_path("@weft-abstract");
  CHECK(abstract.to_string() == "@weft-abstract");
  CHECK(SocketAddress::unix_path(abstract.to_string()) == abstract);
  CHECK_FALSE(abstract == SocketAddress::unix_path("/weft-abstract"));

  const SocketAddress none;
  CHECK(none.empty());
  CHECK(none.to_string().empty());
  CHECK(none.port() == 0);

  // What the kernel reports round trips too.
  for (const char* ip : {"127.0.0.1", "::1"}) {
    CAPTURE(ip);
    TcpListener l = TcpListener::bind({ip, 0});
    const SocketAddress bound = l.local_address();
    CHECK(bound.host() == ip);
    CHECK(bound.port() != 0);
    CHECK(SocketAddress::parse(bound.to_string()) == bound);
  }
}

TEST_CASE("resolve(\"localhost\") gives loopback addresses with the port") {
  weft_test::one_worker();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      for (weft::Deadline deadline : {weft::Deadline(), weft::Deadline(5s)}) {
        const auto all = weft::net::resolve("localhost", 4242, deadline);
        REQUIRE_FALSE(all.empty());
        for (const auto& a : all) {
          CAPTURE(a.to_string());
          CHECK(is_loopback(a));
          CHECK(a.port() == 4242);
        }
      }
      const auto v4 = weft::net::resolve("localhost", 1, {}, AF_INET);
      REQUIRE_FALSE(v4.empty());
      CHECK(std::all_of(v4.begin(), v4.end(), [](const SocketAddress& a) { return a.family() == AF_INET; }));
      // Numeric addresses come back as they are.
      const auto numeric = weft::net::resolve("127.0.0.1", 80);
      REQUIRE(numeric.size() == 1);
      CHECK(numeric[0] == SocketAddress("127.0.0.1", 80));
      const auto numeric6 = weft::net::resolve("::1", 80);
      REQUIRE(numeric6.size() == 1);
      CHECK(numeric6[0] == SocketAddress("::1", 80));
    });
  }
}

TEST_CASE("resolve of a name that cannot exist throws resolve_error in resolve_category()") {
  weft_test::one_worker();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      for (weft::Deadline deadline : {weft::Deadline(), weft::Deadline(10s)}) {
        bool thrown = false;
        try {
          (void)weft::net::resolve("no-such-host.invalid", 80, deadline);
        } catch (const weft::net::resolve_error& e) {
          thrown = true;
          const std::system_error& as_system = e;
          CHECK(as_system.code().category() == weft::net::resolve_category());
          const int code = e.code().value();
          CHECK_MESSAGE((code == EAI_NONAME || code == EAI_AGAIN || code == EAI_FAIL || code == EAI_NODATA),
                        "EAI code " << code << ": " << e.what());
          CHECK(e.code().message() == ::gai_strerror(code));
          CHECK_MESSAGE(contains(e.what(), "no-such-host.invalid"), e.what());
        }
        CHECK(thrown);
      }
      CHECK_THROWS_AS((void)TcpStream::connect("no-such-host.invalid", 80, 10s), weft::net::resolve_error);
    });
  }
}

TEST_CASE("TcpStream::connect(\"localhost\", port) connects") {
  weft_test::one_worker();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      TcpListener listener = TcpListener::bind({"127.0.0.1", 0});
      const std::uint16_t port = listener.local_address().port();
      for (weft::Deadline deadline : {weft::Deadline(), weft::Deadline(5s)}) {
        TcpStream c = TcpStream::connect("localhost", port, deadline);
        TcpStream s = listener.accept(5s);
        CHECK(c.peer_address() == listener.local_address());
        CHECK(s.peer_address() == c.local_address());
        c.write_all("ping", 5s);
        char buf[4];
        s.read_exact(buf, 4, 5s);
        CHECK(std::string(buf, 4) == "ping");
      }
    });
  }
}

TEST_CASE("resolve with a deadline gives up at the deadline while the lookup goes on") {
  weft_test::one_worker();
  stall_watch().reset();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      const auto ref = took([] { weft::sleep_for(50ms); });
      const int calls_before = slow_calls.load();
      const auto d = took([] {
        CHECK_THROWS_AS((void)weft::net::resolve(kSlowName, 80, 50ms), weft::net::timeout_error);
      });
      CHECK(slow_calls.load() == calls_before + 1);
      CHECK(d >= 50ms);
      CHECK_MESSAGE(d < ref + late_ok(), "took " << ms(d) << " ms, sleep_for(50ms) " << ms(ref));
      // Without a deadline it waits for the answer.
      const auto all = weft::net::resolve(kSlowName, 80);
      REQUIRE_FALSE(all.empty());
      CHECK(is_loopback(all.front()));
    });
  }
  CHECK(slow_calls_in_fiber.load() == 0);
}

TEST_CASE("50 lookups in fibers at once on one worker do not block it") {
  weft_test::one_worker();
  stall_watch().reset();
  on(Where::fiber, [] {
    // Reference: one slow lookup alone.
    const auto one = took([] { (void)weft::net::resolve(kSlowName, 80); });
    REQUIRE(one >= 200ms);

    std::atomic<bool> stop{false};
    Clock::duration worst_gap{};
    int ticks = 0;
    auto ticker = weft::spawn([&] {
      auto last = Clock::now();
      while (!stop.load()) {
        weft::sleep_for(1ms);
        const auto now = Clock::now();
        worst_gap = std::max(worst_gap, now - last);
        last = now;
        ++ticks;
      }
    });
    slow_most_in_flight = 0;
    const int calls_before = slow_calls.load();
    std::atomic<int> good{0};
    const auto all = took([&] {
      std::vector<weft::Unfuture<void>> lookups;
      for (int i = 0; i < 50; ++i) {
        lookups.push_back(weft::spawn([&] {
          const auto addrs = weft::net::resolve(kSlowName, 8080);
          if (!addrs.empty() && is_loopback(addrs.front()) && addrs.front().port() == 8080) good.fetch_add(1);
        }));
      }
      for (auto& l : lookups) l.get();
    });
    stop = true;
    ticker.get();
    MESSAGE("one lookup " << ms(one) << " ms; 50 at once " << ms(all) << " ms, at most "
                          << slow_most_in_flight.load() << " in flight; ticker: " << ticks
                          << " ticks, worst gap " << ms(worst_gap) << " ms");
    CHECK(good.load() == 50);
    CHECK(slow_calls.load() == calls_before + 50);
    CHECK(slow_most_in_flight.load() > 1);
    // Run one after another on the worker, they would take 50 times as long.
    CHECK(all < one * 10 + late_ok());
    // Had a lookup blocked the worker, the ticker would have stopped for 200 ms.
    CHECK(worst_gap < 100ms + late_ok());
  });
  CHECK(slow_calls_in_fiber.load() == 0);
}
