// The sample servers print weft::stats() to stderr on SIGUSR1 and serve on: http_hello
// with two workers and a few idle keep-alive clients, whose connections' fibers the
// report shows parked reading.
#include "support/plain_client.hpp"
#include "support/server_process.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;

namespace {

constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
constexpr std::string_view kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The number after `label` in the last report in `log`, or -1.
long last_figure(const std::string& log, std::string_view label) {
  const std::size_t at = log.rfind(label);
  if (at == std::string::npos) return -1;
  return std::strtol(log.c_str() + at + label.size(), nullptr, 10);
}

// Waits until `log()` holds `n` reports.
template <class Log>
std::string wait_reports(Log log, std::size_t n) {
  std::string text;
  const auto until = std::chrono::steady_clock::now() + 10s * WEFT_TEST_SLACK;
  while (std::chrono::steady_clock::now() < until) {
    text = log();
    if (occurrences(text, "process pool:") >= n) break;
    std::this_thread::sleep_for(20ms);
  }
  return text;
}

}  // namespace

TEST_CASE("http_hello prints the runtime's figures on SIGUSR1 and keeps serving") {
  TempDir dir("stats-signal");
  const int port = free_port();
  ServerProcess server({WEFT_SAMPLE_HTTP_HELLO, "--port", std::to_string(port), "--threads", "2"},
                       dir.path() / "http_hello.log");
  REQUIRE_MESSAGE(server.wait_until_ready([&] { return port_open(port); }, 10s * WEFT_TEST_SLACK), server.log());

  constexpr int kClients = 5;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect_tcp(port));
    REQUIRE(send_all(clients.back(), kRequest));
    REQUIRE(recv_bytes(clients.back(), kHello.size(), 5s) == kHello);
  }

  // Each client's connection fiber waits for its next request, once it has finished
  // answering: a slow build may still be writing when the client has read, so ask until
  // they all wait (each ask is one report).
  std::string log;
  std::size_t reports = 0;
  for (int ask = 0; ask < 50; ++ask) {
    REQUIRE(::kill(server.pid(), SIGUSR1) == 0);
    log = wait_reports([&] { return server.log(); }, ++reports);
    if (last_figure(log, "fd read ") >= kClients) break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK_MESSAGE(occurrences(log, "weft: 2 workers,") == reports, log);
  CHECK_MESSAGE(last_figure(log, "fd read ") >= kClients, log);
  CHECK_MESSAGE(last_figure(log, "not started, ") >= kClients, log);  // spawned

  // The signal did not end the server (SIGUSR1's default would have), and asks again.
  for (int fd : clients) {
    REQUIRE(send_all(fd, kRequest));
    CHECK(recv_bytes(fd, kHello.size(), 5s) == kHello);
  }
  REQUIRE(::kill(server.pid(), SIGUSR1) == 0);
  const std::string again = wait_reports([&] { return server.log(); }, reports + 1);
  CHECK_MESSAGE(occurrences(again, "weft: 2 workers,") == reports + 1, again);

  for (int fd : clients) ::close(fd);
  CHECK(server.stop(10s));
}
