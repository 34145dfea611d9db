// libpq, unchanged, against a real PostgreSQL server on 127.0.0.1, from fibers that all
// run on ONE worker thread (issue 3, item 4): 50 fibers each open their own connection
// (PQconnectdb) and run SELECT pg_sleep(0.2) (PQexec). libpq waits in poll() on its
// socket; the shims park the fiber instead, so the 50 queries overlap and take about 0.2 s
// together, not 10 s (see the test case's comment for how connecting is measured).
//
// The server is a throwaway cluster (support/postgres_cluster.hpp), stopped by PID at the
// end, pass or fail.
#include <weft/weft.hpp>

#include "support/libpq_handles.hpp"
#include "support/one_worker.hpp"
#include "support/postgres_cluster.hpp"
#include "support/server_process.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Conn;
using weft_test::Result;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kFibers = 50;
constexpr auto kSleep = 200ms;  // pg_sleep(0.2)

weft_test::StallWatch stall_watch;

// What one fiber saw.
struct Outcome {
  std::string error;
  std::string tag;  // the second column: 'fiber <i>'
  int backend_pid = 0;
  Clock::duration queried{};    // how long PQexec took
  std::thread::id thread;
};

// One connection, as a program opens it.
Conn connect(const std::string& conninfo, std::string& error) {
  Conn c(PQconnectdb(conninfo.c_str()));
  if (!c || PQstatus(c.get()) != CONNECTION_OK) {
    error = c ? PQerrorMessage(c.get()) : "PQconnectdb returned null";
    return nullptr;
  }
  return c;
}

// SELECT pg_sleep(0.2) with two more columns on c: libpq's blocking PQexec as is.
void sleep_query(PGconn* c, int i, Outcome& out) {
  const std::string sql =
      "SELECT pg_sleep(0.2), 'fiber ' || " + std::to_string(i) + ", pg_backend_pid()";
  const auto start = Clock::now();
  Result r(PQexec(c, sql.c_str()));
  out.queried = Clock::now() - start;
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    out.error = PQerrorMessage(c);
    return;
  }
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != 3) {
    out.error = "expected 1 row of 3 columns, got " + std::to_string(PQntuples(r.get())) + " of " +
                std::to_string(PQnfields(r.get()));
    return;
  }
  // pg_sleep returns void, which reads as an empty string, not NULL.
  if (std::string(PQgetvalue(r.get(), 0, 0)) != "" || PQgetisnull(r.get(), 0, 0)) {
    out.error = "pg_sleep returned '" + std::string(PQgetvalue(r.get(), 0, 0)) + "'";
  }
  out.tag = PQgetvalue(r.get(), 0, 1);
  out.backend_pid = std::atoi(PQgetvalue(r.get(), 0, 2));
}

}  // namespace

// The server forks a backend for every connection, which here (2 shared cores) costs it
// 15-35 ms of CPU: 50 connections opened at once take the server 0.5-1.5 s whoever opens
// them. So the fibers open their connections, wait until all have, and then all run the
// query: the 50 queries, 10 s of pg_sleep, must overlap into about 0.2 s. The connecting
// is compared with 50 plain threads connecting at once, which shows what the server needs.
TEST_CASE("libpq: 50 fibers on one worker, each its own connection and SELECT pg_sleep(0.2)") {
  one_worker();
  weft_test::raise_fd_limit();
  weft_test::PostgresCluster cluster;
  REQUIRE_MESSAGE(cluster.up(), cluster.problem());
  const std::string conninfo = cluster.conninfo();

  // Reference: one connection and query alone, in a fiber.
  stall_watch.reset();
  const Outcome ref = weft::spawn([&] {
                        Outcome out;
                        Conn c = connect(conninfo, out.error);
                        if (c) sleep_query(c.get(), -1, out);
                        return out;
                      }).get();
  REQUIRE_MESSAGE(ref.error.empty(), ref.error);
  CHECK(ref.tag == "fiber -1");
  CHECK(ref.queried >= kSleep);
  const auto reference = ref.queried;

  // Reference: what the server needs to accept 50 connections at once (plain threads).
  Clock::duration threads_connecting{};
  {
    std::vector<std::string> errors(kFibers);
    std::vector<Conn> conns(kFibers);
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int i = 0; i < kFibers; ++i) {
      threads.emplace_back([&, i] { conns[i] = connect(conninfo, errors[i]); });
    }
    for (auto& t : threads) t.join();
    threads_connecting = Clock::now() - start;
    for (const auto& e : errors) REQUIRE_MESSAGE(e.empty(), e);
  }
  // Their 50 backends exit now; let that work pass before the fibers connect.
  std::this_thread::sleep_for(500ms);

  stall_watch.reset();
  weft::Promise<void> all_connected;
  const weft::Unfuture<void> go = all_connected.get_unfuture();
  std::atomic<int> connected{0};
  Clock::time_point queries_start;
  const auto start = Clock::now();
  std::vector<weft::Unfuture<Outcome>> fibers;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn([&, i] {
      Outcome out;
      out.thread = std::this_thread::get_id();
      Conn c = connect(conninfo, out.error);
      if (++connected == kFibers) {
        queries_start = Clock::now();
        all_connected.set_value();
      }
      go.wait();
      if (c) sleep_query(c.get(), i, out);
      return out;
    }));
  }
  const std::vector<Outcome> outcomes = weft::when_all(fibers).get();
  const auto end = Clock::now();
  const auto stall = stall_watch.worst();
  const auto total = end - start;
  const auto connecting = queries_start - start;
  const auto querying = end - queries_start;

  int good = 0;
  std::set<int> backends;
  std::set<std::thread::id> threads;
  Clock::duration shortest = Clock::duration::max();
  for (int i = 0; i < kFibers; ++i) {
    const Outcome& o = outcomes[static_cast<std::size_t>(i)];
    INFO("fiber " << i);
    CHECK_MESSAGE(o.error.empty(), o.error);
    CHECK(o.tag == "fiber " + std::to_string(i));
    if (o.error.empty() && o.tag == "fiber " + std::to_string(i)) ++good;
    if (o.backend_pid > 0) backends.insert(o.backend_pid);
    if (o.error.empty()) shortest = std::min(shortest, o.queried);
    threads.insert(o.thread);
  }
  MESSAGE("pg_sleep(0.2) alone: " << ms(reference) << " ms; " << kFibers << " fibers: connecting "
          << ms(connecting) << " ms (" << kFibers << " plain threads: " << ms(threads_connecting)
          << " ms), then " << kFibers << " queries at once " << ms(querying) << " ms; "
          << ms(total) << " ms in all (machine stall " << ms(stall) << " ms)");
  CHECK(good == kFibers);
  CHECK(backends.size() == static_cast<std::size_t>(kFibers));  // each its own server backend
  CHECK(shortest >= kSleep);  // each query really slept in the server
  CHECK(threads.size() == 1);  // all on the one worker
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  // The 50 queries overlap: 10 s of pg_sleep in about 0.2 s.
  CHECK_MESSAGE(querying < 1s * WEFT_TEST_SLACK + stall, "queries took " << ms(querying) << " ms");
  CHECK_MESSAGE(querying < 4 * reference * WEFT_TEST_SLACK + stall,
                "queries took " << ms(querying) << " ms, one alone " << ms(reference) << " ms");
  // Connecting is the server's work; the fibers on one thread are not slower at it than
  // threads, and the whole is done within 1 s of what the server needed for it.
  CHECK_MESSAGE(connecting < 2 * threads_connecting + 250ms * WEFT_TEST_SLACK + stall,
                "connecting took " << ms(connecting) << " ms, threads " << ms(threads_connecting) << " ms");
  CHECK_MESSAGE(total < threads_connecting + 1s * WEFT_TEST_SLACK + stall,
                "took " << ms(total) << " ms, threads connecting " << ms(threads_connecting) << " ms");
}
