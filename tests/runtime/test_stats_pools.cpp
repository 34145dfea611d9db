// weft::stats() shows the spawn_blocking pool's threads, those running a task, the tasks
// queued for a thread and the submitters waiting for room in the queue; and the resolver's
// own pool apart from it. Two pool threads and a queue of one, so that a few tasks held at
// a gate the test opens fill all of it.
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/stats_when.hpp"

#include <doctest/doctest.h>

#include <netdb.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <vector>

using weft_test::Gate;

namespace {

using weft_test::stats_when;

constexpr unsigned kPoolThreads = 2;

void two_workers_small_pool() {
  static const bool once = [] {
    weft::configure({.threads = 2, .blocking_threads = kPoolThreads, .blocking_queue = 1});
    return true;
  }();
  (void)once;
}

}  // namespace

TEST_CASE("the blocking pool's figures show busy threads, queued tasks and waiting submitters") {
  two_workers_small_pool();
  const weft::Stats base = stats_when([](const weft::Stats& s) { return s.blocking.busy == 0; });
  REQUIRE(base.blocking.busy == 0);
  REQUIRE(base.blocking.queued == 0);

  Gate gate;
  std::vector<weft::Unfuture<void>> held;
  for (unsigned i = 0; i < kPoolThreads + 1; ++i) held.push_back(weft::spawn_blocking([&] { gate.pass(); }));
  REQUIRE(gate.wait_arrived(kPoolThreads));
  const weft::Stats full = stats_when([](const weft::Stats& s) { return s.blocking.busy == kPoolThreads; });
  CHECK(full.blocking.threads == kPoolThreads);
  CHECK(full.blocking.busy == kPoolThreads);
  CHECK(full.blocking.queued == 1);  // the third, behind the two held
  CHECK(full.blocking.pending == 0);

  // The queue is full: one more submitter waits for room (a plain thread blocks).
  std::thread late([&] { held.push_back(weft::spawn_blocking([&] { gate.pass(); })); });
  const weft::Stats waiting = stats_when([](const weft::Stats& s) { return s.blocking.pending == 1; });
  CHECK(waiting.blocking.pending == 1);
  CHECK(waiting.blocking.queued == 1);
  CHECK(waiting.resolver.busy == 0);  // another pool's figures

  gate.open();
  late.join();
  for (auto& h : held) h.get();
  const weft::Stats after = stats_when([](const weft::Stats& s) { return s.blocking.busy == 0; });
  CHECK(after.blocking.busy == 0);
  CHECK(after.blocking.queued == 0);
  CHECK(after.blocking.pending == 0);
  CHECK(after.blocking.threads == kPoolThreads);  // idle, not retired yet (10 s)
}

TEST_CASE("a fiber's name lookup shows in the resolver's pool, not the blocking pool") {
  two_workers_small_pool();
  // Nothing else in this program looks names up, so its pool has no thread yet.
  const weft::Stats base = weft::stats();
  REQUIRE(base.resolver.threads == 0);
  const int rc = weft::run([] {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;  // localhost alone is answered on the worker
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo("localhost", "80", &hints, &list);
    if (list != nullptr) ::freeaddrinfo(list);
    return rc;
  });
  REQUIRE(rc == 0);
  const weft::Stats after = weft::stats();
  CHECK(after.resolver.threads >= 1);  // retires after 10 s idle
  CHECK(after.blocking.threads == base.blocking.threads);
}
