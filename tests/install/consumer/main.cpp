// A minimal program built against an *installed* weft, by tests/install/check_install.sh:
// once with find_package(weft CONFIG) and once with pkg-config, shared and static.
// Exit code 0 on success; otherwise a message on stderr and a nonzero code.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// The shims came with the link: a plain std::this_thread::sleep_for in five fibers on one
// worker overlaps (about one sleep's time), where libc's would take five in a row.
bool shims_are_linked() {
  using Clock = std::chrono::steady_clock;
  const auto one_start = Clock::now();
  weft::run([] { std::this_thread::sleep_for(50ms); });
  const auto one = Clock::now() - one_start;
  const auto five_start = Clock::now();
  weft::run([] {
    std::vector<weft::Unfuture<void>> sleepers;
    for (int i = 0; i < 5; ++i) sleepers.push_back(weft::spawn([] { std::this_thread::sleep_for(50ms); }));
    for (auto& s : sleepers) s.get();
  });
  const auto five = Clock::now() - five_start;
  if (five < 3 * one) return true;
  std::fprintf(stderr, "consumer: five sleeping fibers took %.1f ms, one took %.1f ms: no shims?\n",
               std::chrono::duration<double, std::milli>(five).count(),
               std::chrono::duration<double, std::milli>(one).count());
  return false;
}

// weft::net's headers are installed and its code linked: a served echo, one round trip.
bool net_is_there() {
  auto server = weft::net::serve(weft::net::TcpListener::bind({"127.0.0.1", 0}), [](weft::net::TcpStream& c) {
    char buf[16];
    while (const std::size_t n = c.read(buf, sizeof buf)) c.write_all(buf, n);
  });
  const std::string got = weft::run([addr = server.local_address()] {
    auto conn = weft::net::TcpStream::connect(addr, 5s);
    conn.write_all("ping");
    char buf[4];
    conn.read_exact(buf, sizeof buf, 5s);
    return std::string(buf, sizeof buf);
  });
  server.stop(1s);
  if (got == "ping") return true;
  std::fprintf(stderr, "consumer: the echo server answered \"%s\"\n", got.c_str());
  return false;
}

// spawn_process works from the installed package: a worker process (re-executed from this
// binary, static or shared libweft alike) runs a function and a lambda.
int triple(int x) { return 3 * x; }

bool processes_work() {
  const int a = weft::spawn_process(triple, 14).get();
  const pid_t worker = weft::spawn_process([] { return ::getpid(); }).get();
  if (a == 42 && worker != ::getpid()) return true;
  std::fprintf(stderr, "consumer: spawn_process gave %d from pid %d (mine %d)\n", a,
               static_cast<int>(worker), static_cast<int>(::getpid()));
  return false;
}

}  // namespace

int main() {
  try {
    weft::configure({.threads = 1});
    const auto start = std::chrono::steady_clock::now();
    weft::Unfuture<int> answer = weft::spawn([](int base) {
      if (!weft::in_fiber()) return -1;
      weft::sleep_for(10ms);
      return base + 2;
    }, 40);
    const int value = answer.get();
    const auto took = std::chrono::steady_clock::now() - start;
    if (value != 42) {
      std::fprintf(stderr, "consumer: fiber returned %d, expected 42%s\n", value,
                   value == -1 ? " (weft::in_fiber() was false inside the fiber)" : "");
      return 1;
    }
    if (took < 10ms) {
      std::fprintf(stderr, "consumer: fiber finished after %lld us, before its 10 ms sleep\n",
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
      return 1;
    }
    if (!shims_are_linked()) return 1;
    if (!net_is_there()) return 1;
    if (!processes_work()) return 1;
    std::printf("consumer: ok (shims, weft::net and spawn_process too), fiber returned %d after %.1f ms\n", value,
                std::chrono::duration<double, std::milli>(took).count());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: exception: %s\n", e.what());
    return 2;
  }
}
