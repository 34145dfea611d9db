// libmemcached, unchanged, against a real memcached on 127.0.0.1, from fibers that all run
// on ONE worker thread (issue 16, item 6). libmemcached writes its requests and waits for
// replies in poll() on a socket it made non-blocking itself, with
// MEMCACHED_BEHAVIOR_POLL_TIMEOUT as poll's timeout:
// - 50 fibers, each its own connection, set and get their own keys as 50 plain threads do,
//   every value read back being the one written;
// - a memcached stopped with SIGSTOP (the connection up, the server silent) makes a get
//   fail with MEMCACHED_TIMEOUT after the 200 ms poll timeout, in a fiber as on a plain
//   thread, while a ticker fiber on the same worker ticks on.
//
// The test starts its own memcached (support/memcached_server.hpp), stopped by PID at the end.
#include <weft/weft.hpp>

#include "support/memcached_server.hpp"
#include "support/fan_out.hpp"
#include "support/one_worker.hpp"
#include "support/peak_count.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <libmemcached/memcached.h>

#include <csignal>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Memcached;
using weft_test::MemcachedServer;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kClients = 50;
constexpr int kRounds = 50;  // set + get pairs per client
constexpr int kPollTimeoutMs = 200;
constexpr auto kTick = 5ms;

weft_test::StallWatch stall_watch;

Memcached connect(int port) {
  const std::string options = "--SERVER=127.0.0.1:" + std::to_string(port);
  Memcached mc(memcached(options.c_str(), options.size()));
  if (mc) memcached_behavior_set(mc.get(), MEMCACHED_BEHAVIOR_POLL_TIMEOUT, kPollTimeoutMs);
  return mc;
}

// What one client saw: the first error, if any.
struct Outcome {
  std::string error;
  std::thread::id thread;
};

// Clients between their first request and their last reply.
weft_test::PeakCount in_flight;

// kRounds of set then get of keys only this client uses, on its own connection.
Outcome set_and_get(int port, const std::string& who) {
  Outcome out;
  out.thread = std::this_thread::get_id();
  Memcached mc = connect(port);
  if (!mc) {
    out.error = "memcached() returned null";
    return out;
  }
  weft_test::PeakCount::Inside inside(in_flight);
  for (int r = 0; r < kRounds && out.error.empty(); ++r) {
    const std::string key = "weft:" + who + ":" + std::to_string(r), value = "value of " + key;
    memcached_return_t rc = memcached_set(mc.get(), key.data(), key.size(), value.data(), value.size(), 0, 0);
    if (rc != MEMCACHED_SUCCESS) {
      out.error = "set: " + std::string(memcached_strerror(mc.get(), rc));
      break;
    }
    std::size_t length = 0;
    std::uint32_t flags = 0;
    char* got = memcached_get(mc.get(), key.data(), key.size(), &length, &flags, &rc);
    // Another client's value, or a reply taken for the wrong request, shows here.
    if (got == nullptr || std::string(got, length) != value) {
      out.error = "get " + key + ": " + std::string(memcached_strerror(mc.get(), rc)) +
                  (got ? " (got '" + std::string(got, length) + "')" : "");
    }
    std::free(got);
  }
  return out;
}

// A get on a connection to a server that has stopped answering: its result and duration.
struct TimedOut {
  memcached_return_t rc = MEMCACHED_SUCCESS;
  Clock::duration waited{};
};
TimedOut get_from_stopped(memcached_st* mc) {
  const auto start = Clock::now();
  std::size_t length = 0;
  std::uint32_t flags = 0;
  TimedOut t;
  char* got = memcached_get(mc, "weft:stopped", 12, &length, &flags, &t.rc);
  t.waited = Clock::now() - start;
  std::free(got);
  return t;
}

// Connected: a set went through while the server still ran.
bool prime(memcached_st* mc) {
  return memcached_set(mc, "weft:stopped", 12, "x", 1, 0, 0) == MEMCACHED_SUCCESS;
}

// Stops the process with SIGSTOP and waits until every one of its threads has stopped:
// kill() returns before they have, and a worker thread still running answers a request.
bool stop_process(pid_t pid) {
  if (::kill(pid, SIGSTOP) != 0) return false;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(1ms)) {
    bool all_stopped = true;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream stat(task.path() / "stat");
      std::string line;
      std::getline(stat, line);
      // "<tid> (<comm>) <state> ...": the state follows the last ')'.
      const auto paren = line.rfind(')');
      if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'T') all_stopped = false;
    }
    if (all_stopped) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("libmemcached: 50 fibers on one worker set and get their own keys, as 50 plain threads do") {
  one_worker();
  MemcachedServer server;
  REQUIRE_MESSAGE(server.up(), "memcached did not start:\n" << server.log());

  Clock::duration threads_took{}, fibers_took{};
  const std::vector<Outcome> by_threads = weft_test::on_threads(
      kClients, [&](int i) { return set_and_get(server.port(), "thread" + std::to_string(i)); }, threads_took);
  for (const Outcome& o : by_threads) REQUIRE_MESSAGE(o.error.empty(), o.error);

  stall_watch.reset();
  in_flight.reset();
  const std::vector<Outcome> outcomes = weft_test::in_fibers(
      kClients, [&](int i) { return set_and_get(server.port(), "fiber" + std::to_string(i)); }, fibers_took);
  const auto stall = stall_watch.worst();

  std::set<std::thread::id> threads;
  for (const Outcome& o : outcomes) {
    CHECK_MESSAGE(o.error.empty(), o.error);  // a request the shims broke or a reply misrouted
    threads.insert(o.thread);
  }
  MESSAGE(kClients << " clients x " << kRounds << " set+get: fibers on one worker " << ms(fibers_took) << " ms, "
                   << kClients << " plain threads " << ms(threads_took) << " ms (machine stall " << ms(stall)
                   << " ms); at most " << in_flight.peak() << " fibers between first request and last reply");
  CHECK(threads.size() == 1);  // all on the one worker
  // The fibers' round trips interleave: a worker that blocked in a fiber's poll would run
  // each client from its first request to its last reply before the next began (1 at once).
  CHECK(in_flight.peak() >= kClients / 2);
  // Round trips of microseconds: a fiber that waited out a poll timeout instead of being
  // woken by its reply (200 ms each) would take seconds.
  CHECK_MESSAGE(fibers_took < 3 * threads_took + 200ms * WEFT_TEST_SLACK + stall,
                "fibers " << ms(fibers_took) << " ms, threads " << ms(threads_took) << " ms");
}

TEST_CASE("libmemcached: a get from a SIGSTOPped memcached times out at the poll timeout, the worker running on") {
  one_worker();
  MemcachedServer server;
  REQUIRE_MESSAGE(server.up(), "memcached did not start:\n" << server.log());
  Memcached on_thread_mc = connect(server.port());
  REQUIRE(on_thread_mc != nullptr);
  REQUIRE(prime(on_thread_mc.get()));
  // The fiber's connection is made and used in the fiber (a socket the fiber created).
  weft::Promise<void> stopped;
  weft::Unfuture<void> server_stopped = stopped.get_unfuture();
  weft::Unfuture<std::pair<bool, TimedOut>> fiber = weft::spawn([&] {
    Memcached mc = connect(server.port());
    const bool primed = mc && prime(mc.get());
    server_stopped.wait();
    return std::pair{primed, primed ? get_from_stopped(mc.get()) : TimedOut{}};
  });
  std::this_thread::sleep_for(100ms);  // let the fiber connect and set before the server stops

  REQUIRE(stop_process(server.pid()));
  const TimedOut on_thread = get_from_stopped(on_thread_mc.get());

  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  stopped.set_value();
  const auto [primed, in_fiber] = fiber.get();
  ticker.finish();
  const auto stall = stall_watch.worst();
  ::kill(server.pid(), SIGCONT);  // so that the SIGTERM at the end stops it

  MESSAGE("stopped memcached: plain thread's get " << std::string(memcached_strerror(nullptr, on_thread.rc))
          << " after " << ms(on_thread.waited) << " ms, fiber's " << std::string(memcached_strerror(nullptr, in_fiber.rc))
          << " after "
          << ms(in_fiber.waited) << " ms; ticker's worst gap " << ms(ticker.worst_gap()) << " ms over "
          << ticker.ticks() << " ticks (machine stall " << ms(stall) << " ms)");
  REQUIRE(primed);
  REQUIRE(on_thread.rc == MEMCACHED_TIMEOUT);
  CHECK(in_fiber.rc == MEMCACHED_TIMEOUT);  // not a hang, a success, or another error
  // The poll timeout was honoured: not an instant failure, not a wait far beyond it.
  CHECK(in_fiber.waited >= std::chrono::milliseconds(kPollTimeoutMs) - 5ms);
  CHECK_MESSAGE(in_fiber.waited < on_thread.waited + 100ms * WEFT_TEST_SLACK + stall,
                "fiber " << ms(in_fiber.waited) << " ms, thread " << ms(on_thread.waited) << " ms");
  CHECK(ticker.ticks() > 10);
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}
