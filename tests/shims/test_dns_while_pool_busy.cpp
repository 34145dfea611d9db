// A lookup in a fiber runs on another thread, so that glibc's resolver does not block the
// worker. It must not queue behind the user's spawn_blocking tasks: with every pool thread
// held by a long task and more tasks queued behind, getaddrinfo("localhost") (and
// weft::net::resolve) in a fiber still answer about as fast as on an idle pool. Two workers;
// the long tasks are submitted from a plain thread and from a fiber.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Gate;
using weft_test::ms;
using weft_test::took;

namespace {

constexpr unsigned kPoolThreads = 2;

void two_workers_small_pool() {
  static const bool once = [] {
    weft::configure({.threads = 2, .blocking_threads = kPoolThreads, .blocking_queue = 8});
    return true;
  }();
  (void)once;
}

// getaddrinfo("localhost") in a new fiber: its result code (0 and a list: 0).
weft::Unfuture<int> lookup_in_fiber() {
  return weft::spawn([] {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;  // for the resolver pool: localhost alone is answered on the worker
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo("localhost", "80", &hints, &list);
    if (rc == 0 && list == nullptr) return -1;
    if (list != nullptr) ::freeaddrinfo(list);
    return rc;
  });
}

// Every pool thread inside a task held at `gate`, and more tasks queued behind them. A
// condition variable (what Gate uses) is not a weft wait: the threads are simply busy.
std::vector<weft::Unfuture<void>> saturate(Gate& gate) {
  std::vector<weft::Unfuture<void>> held;
  std::thread([&] {
    for (unsigned i = 0; i < kPoolThreads + 1; ++i) held.push_back(weft::spawn_blocking([&] { gate.pass(); }));
  }).join();
  weft::run([&] {
    for (unsigned i = 0; i < kPoolThreads + 1; ++i) held.push_back(weft::spawn_blocking([&] { gate.pass(); }));
  });
  REQUIRE(gate.wait_arrived(kPoolThreads));
  return held;
}

}  // namespace

TEST_CASE("getaddrinfo and resolve in a fiber answer promptly while the spawn_blocking pool is saturated") {
  two_workers_small_pool();
  // Reference: the same lookup with the pool idle.
  const auto idle = took([] { CHECK(lookup_in_fiber().get() == 0); });
  const auto allowed = std::max<std::chrono::steady_clock::duration>(idle * 20, 1s) * WEFT_TEST_SLACK;

  Gate gate;
  auto held = saturate(gate);
  auto lookup = lookup_in_fiber();
  auto resolved = weft::spawn([] { return weft::net::resolve("localhost", 80).size(); });
  const auto give_up = std::chrono::steady_clock::now() + allowed;
  const bool answered = lookup.wait_until(give_up);
  const bool resolved_in_time = resolved.wait_until(give_up);
  MESSAGE("idle pool: " << ms(idle) << " ms; allowed while saturated: " << ms(allowed) << " ms");
  CHECK_MESSAGE(answered, "getaddrinfo in a fiber waited behind the user's spawn_blocking tasks");
  CHECK_MESSAGE(resolved_in_time, "weft::net::resolve waited behind the user's spawn_blocking tasks");
  gate.open();
  CHECK(lookup.get() == 0);
  CHECK(resolved.get() > 0);
  for (auto& h : held) h.get();
}
