// The http_hello sample, as a process, under clients that misbehave: some connect and
// vanish, reset mid-request, send garbage, send one byte at a time, or never read their
// answers. A well-behaved keep-alive client is served throughout, the slow one gets its
// answer in the end, and when everyone has gone the server holds no more descriptors than
// when it started and has reported no handler error.
#include "support/fd_count.hpp"
#include "support/plain_client.hpp"
#include "support/server_process.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;

namespace {

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

void reset(int fd) {
  const linger l{1, 0};  // close sends RST instead of FIN
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

}  // namespace

TEST_CASE("http_hello serves good clients while bad ones come and go, and leaks nothing") {
  TempDir dir("http-hello");
  const int port = free_port();
  ServerProcess server({WEFT_SAMPLE_HTTP_HELLO, "--port", std::to_string(port), "--threads", "2",
                        "--idle-timeout", "1"},
                       dir.path() / "http_hello.log");
  REQUIRE_MESSAGE(server.wait_until_ready([&] { return port_open(port); }, 10s), server.log());
  // port_open's probe connection may still be open in the server: let it time out.
  std::this_thread::sleep_for(1500ms);
  const long fds_at_start = open_fds(server.pid());
  REQUIRE(fds_at_start > 0);

  std::atomic<bool> bad_ones_done{false};
  std::atomic<long> good_answers{0};
  std::atomic<long long> worst_ms{0};
  std::thread good([&] {
    const int fd = connect_tcp(port);
    REQUIRE(fd >= 0);
    while (!bad_ones_done.load()) {
      const auto t = took([&] {
        REQUIRE(send_all(fd, kRequest));
        REQUIRE(recv_bytes(fd, kHello.size(), 5s) == kHello);
      });
      good_answers.fetch_add(1);
      if (ms(t) > worst_ms.load()) worst_ms = ms(t);
    }
    ::close(fd);
  });

  std::vector<std::thread> bad;
  bad.emplace_back([&] {  // connect and vanish
    for (int i = 0; i < 200; ++i) ::close(connect_tcp(port));
  });
  bad.emplace_back([&] {  // reset in the middle of a request
    for (int i = 0; i < 100; ++i) {
      const int fd = connect_tcp(port);
      send_all(fd, kRequest.substr(0, 10));
      reset(fd);
    }
  });
  bad.emplace_back([&] {  // garbage: answered 400 (or 431 when it never ends), then closed
    std::mt19937 rng(42);
    for (int i = 0; i < 50; ++i) {
      const int fd = connect_tcp(port);
      std::string junk(i % 2 == 0 ? 1000 : 20000, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      if (i % 2 == 0) junk += "\r\n\r\n";
      send_all(fd, junk);
      const std::string answer = recv_bytes(fd, 12, 5s);
      CHECK_MESSAGE((answer == "HTTP/1.1 400" || answer == "HTTP/1.1 431"), "answer: " << answer);
      CHECK(sees_end(fd, 5s));
      ::close(fd);
    }
  });
  bad.emplace_back([&] {  // one byte at a time, and still answered at the end
    const int fd = connect_tcp(port);
    for (char c : kRequest) {
      send_all(fd, std::string_view(&c, 1));
      std::this_thread::sleep_for(60ms);
    }
    CHECK(recv_bytes(fd, kHello.size(), 5s) == kHello);
    ::close(fd);
  });
  bad.emplace_back([&] {  // pipelines a flood and never reads: its handler blocks writing
    const int fd = connect_tcp(port);
    std::string flood;
    for (int i = 0; i < 2000; ++i) flood += kRequest;
    for (int i = 0; i < 20; ++i) {
      if (!send_all(fd, flood)) break;
    }
    reset(fd);
  });
  int idle = connect_tcp(port);  // says nothing: dropped after the idle timeout
  const auto idle_took = took([&] { CHECK(sees_end(idle, 5s)); });
  ::close(idle);
  CHECK(idle_took >= 900ms);

  for (auto& t : bad) t.join();
  bad_ones_done = true;
  good.join();
  CHECK(good_answers.load() > 100);
  // Nobody waited behind the bad clients: a worker never blocked for them.
  CHECK_MESSAGE(worst_ms.load() < 1000 * WEFT_TEST_SLACK, "slowest good request: " << worst_ms.load() << " ms");

  // Every connection is gone from the server.
  long fds_now = -1;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while ((fds_now = open_fds(server.pid())) != fds_at_start && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
  }
  CHECK_MESSAGE(fds_now == fds_at_start, "server descriptors at start " << fds_at_start << ", now " << fds_now);
  CHECK(server.stop(10s));
  const std::string log = server.log();
  CHECK_MESSAGE(log.find(", 0 handler errors") != std::string::npos, log);
  CHECK_MESSAGE(log.find("threw") == std::string::npos, log);
}
