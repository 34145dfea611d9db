// The echo_server sample, as a process with RLIMIT_NOFILE 64, under 100 clients: accept
// runs out of descriptors (EMFILE), backs off without spinning while the others are
// served, and takes the waiting clients as soon as served ones leave.
#include "support/fd_count.hpp"
#include "support/plain_client.hpp"
#include "support/server_process.hpp"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;

namespace {

bool echoes(int fd, const std::string& line, std::chrono::milliseconds limit) {
  return send_all(fd, line) && recv_bytes(fd, line.size(), limit) == line;
}

}  // namespace

TEST_CASE("accept out of descriptors backs off without spinning and recovers") {
  TempDir dir("echo-emfile");
  const int port = free_port();
  // sh sets the limit and execs the server in its place, so the PID is the server's.
  ServerProcess server({"/bin/sh", "-c", "ulimit -n 64 && exec \"$0\" \"$@\"", WEFT_SAMPLE_ECHO_SERVER, "--port",
                        std::to_string(port), "--threads", "1"},
                       dir.path() / "echo_server.log");
  REQUIRE_MESSAGE(server.wait_until_ready([&] { return port_open(port); }, 10s), server.log());

  // One client comes and goes first, so every step of a connection's life has run once
  // before the server runs out of descriptors. Under the sanitizers that matters: UBSan's
  // vptr check makes a pipe the first time it meets a type, cannot while every
  // descriptor is taken, and then reports a valid object as having an "invalid vptr".
  {
    const int fd = connect_tcp(port);
    REQUIRE(echoes(fd, "warm\n", 5000ms));
    ::close(fd);
    std::this_thread::sleep_for(200ms);
  }

  constexpr int kClients = 100;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int fd = connect_tcp(port);  // the kernel's queue takes them all
    REQUIRE(fd >= 0);
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(500ms);
  std::vector<bool> served(kClients, false);
  int first_round = 0;
  for (int i = 0; i < kClients; ++i) {
    served[i] = echoes(clients[i], "hello\n", i == 0 ? 2000ms : 100ms);
    first_round += served[i] ? 1 : 0;
  }
  // Some were taken before the limit hit, not all: ~60 descriptors for 100 clients.
  CHECK_MESSAGE(first_round > 20, server.log());
  CHECK(first_round < kClients);

  // Stuck at EMFILE with connections waiting: the accept loop naps instead of retrying.
  const double cpu_before = cpu_seconds(server.pid());
  std::this_thread::sleep_for(2s);
  const double cpu_used = cpu_seconds(server.pid()) - cpu_before;
  CHECK_MESSAGE(cpu_used < 0.2, "server used " << cpu_used << " s of CPU in 2 s while out of descriptors");

  // Served clients leave in batches; each batch lets waiting ones in.
  for (int round = 0; round < 10; ++round) {
    int left = 0;
    for (int i = 0; i < kClients; ++i) {
      if (served[i] && clients[i] >= 0) {
        ::close(clients[i]);
        clients[i] = -1;
        if (++left == 30) break;
      }
    }
    // Their lines were sent in the first round: the echo is what shows they got in.
    std::this_thread::sleep_for(300ms);
    for (int i = 0; i < kClients; ++i) {
      if (!served[i]) served[i] = recv_bytes(clients[i], 6, 20ms) == "hello\n";
    }
  }
  int served_in_all = 0;
  for (bool s : served) served_in_all += s ? 1 : 0;
  CHECK(served_in_all == kClients);

  for (int& fd : clients) {
    if (fd >= 0) ::close(fd);
  }
  CHECK(server.stop(10s));
  const std::string log = server.log();
  CHECK_MESSAGE(log.find("Too many open files; backing off") != std::string::npos, log);
  CHECK_MESSAGE(log.find(", 0 accept back-offs") == std::string::npos, log);
}
