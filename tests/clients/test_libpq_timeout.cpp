// Stopping a fiber inside libpq (issue 15, item 6), against a real PostgreSQL server on
// 127.0.0.1, every fiber on ONE worker thread. PQexec waits for the result in poll() on
// its socket and retries only on EINTR; under an expired weft::Timeout the hooked poll
// returns -1/ETIMEDOUT, so PQexec("SELECT pg_sleep(5)") ends with an error result at
// once instead of after 5 s.
//
// What it leaves (libpq 15): the result is PGRES_FATAL_ERROR, "select() failed: Connection
// timed out", and libpq reports the connection as still CONNECTION_OK and PQTRANS_IDLE.
// But the server's backend is still running pg_sleep(5) and sends that query's result
// later, so the connection is out of step with its queries and only fit for PQfinish: a
// "SELECT 1" sent on it afterwards waited the rest of the 5 s and returned pg_sleep's row
// (one empty column) as its own. Closing it does not stop the backend either (PostgreSQL
// notices a gone client only when it next writes to it, here after the 5 s: without
// PQcancel the backend was still "active" in pg_stat_activity after PQfinish), so the
// test asks the server to cancel the query with PQcancel under a weft::Shield: PQcancel
// opens a connection of its own, which the expired Timeout would otherwise stop at once.
//
// As in the hiredis case, a neighbour fiber on the same worker ticks on and the process's
// CPU time shows that libpq does not spin (support/stopped_call.hpp).
#include <weft/weft.hpp>

#include "support/deadlock_guard.hpp"
#include "support/libpq_handles.hpp"
#include "support/one_worker.hpp"
#include "support/postgres_cluster.hpp"
#include "support/stopped_call.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Conn;
using weft_test::CostMeter;
using weft_test::Result;
using weft_test::kStopAfter;
using weft_test::ms;

namespace {

const char* const kSleepQuery = "SELECT pg_sleep(5) /* weft timeout test */";

weft_test::StallWatch stall_watch;

// What PQexec returned, what it cost, and what it left.
struct Seen {
  std::string connect_error;
  bool result = false;  // PQexec returned a result (not NULL)
  ExecStatusType status = PGRES_EMPTY_QUERY;
  std::string error;    // PQerrorMessage
  int saved_errno = 0;
  bool expired = false;
  weft_test::CallCost cost;
  ConnStatusType conn_status = CONNECTION_BAD;            // after the failed PQexec
  PGTransactionStatusType transaction = PQTRANS_UNKNOWN;  // likewise
  int backend_pid = 0;
  int cancel_sent = -1;  // PQcancel's result, under a Shield
  std::string cancel_error;
  std::thread::id thread;
};

// The backend's state in pg_stat_activity ("active" while pg_sleep runs), "gone" if it
// has no row, or what went wrong.
std::string backend_state(PGconn* c, int pid) {
  const std::string sql = "SELECT state FROM pg_stat_activity WHERE pid = " + std::to_string(pid);
  Result r(PQexec(c, sql.c_str()));
  if (!r || PQresultStatus(r.get()) != PGRES_TUPLES_OK) return std::string("error: ") + PQerrorMessage(c);
  return PQntuples(r.get()) == 0 ? "gone" : PQgetvalue(r.get(), 0, 0);
}

}  // namespace

TEST_CASE("libpq: pg_sleep(5) under a weft::Timeout(200ms) fails in ~0.2 s, without a spin, and neighbours tick on") {
  weft_test::one_worker();
  weft_test::PostgresCluster cluster;
  REQUIRE_MESSAGE(cluster.up(), cluster.problem());
  const std::string conninfo = cluster.conninfo();

  // The fiber connects first: PQconnectdb kept the worker busy for 15-30 ms here (the
  // ticker's worst gap when it ran during the connect; libpq's set-up, OpenSSL's among
  // it), a stall of the neighbours that is not what this test is about. Then the ticker
  // starts, and the query.
  weft::Promise<void> connected, go;
  auto fiber = weft::spawn([&conninfo, &connected, started = go.get_unfuture()] {
    Seen seen;
    seen.thread = std::this_thread::get_id();
    Conn c(PQconnectdb(conninfo.c_str()));
    connected.set_value();
    if (!c || PQstatus(c.get()) != CONNECTION_OK) {
      seen.connect_error = c ? PQerrorMessage(c.get()) : "PQconnectdb returned null";
      return seen;
    }
    seen.backend_pid = PQbackendPID(c.get());
    started.wait();
    weft::Timeout t(kStopAfter);
    CostMeter meter;
    Result r(PQexec(c.get(), kSleepQuery));  // pg_sleep(5)
    seen.saved_errno = errno;
    meter.stop();
    seen.cost.take(meter);
    seen.expired = t.expired();
    seen.result = r != nullptr;
    if (r) seen.status = PQresultStatus(r.get());
    seen.error = PQerrorMessage(c.get());
    seen.conn_status = PQstatus(c.get());
    seen.transaction = PQtransactionStatus(c.get());
    {
      // Clean-up that must wait: ask the server to stop the query.
      weft::Shield shield;
      char message[256] = "";
      PGcancel* cancel = PQgetCancel(c.get());
      seen.cancel_sent = cancel ? PQcancel(cancel, message, sizeof message) : -2;
      seen.cancel_error = message;
      PQfreeCancel(cancel);
    }
    c.reset();  // PQfinish, still under the expired Timeout: it needs no wait
    return seen;
  });
  connected.get_unfuture().get();
  weft_test::Neighbours neighbours(stall_watch);  // on the one worker, as is the fiber
  go.set_value();
  const Seen seen = weft_test::finish_or_die(fiber, "PQexec under a Timeout never returned");
  neighbours.finish();
  REQUIRE_MESSAGE(seen.connect_error.empty(), seen.connect_error);

  MESSAGE("PQexec(pg_sleep(5)) under Timeout(200ms): "
          << (seen.result ? std::string("result ") + PQresStatus(seen.status) : std::string("NULL"))
          << ", error '" << seen.error << "', errno " << seen.saved_errno << " ("
          << std::string(std::strerror(seen.saved_errno)) << "), " << seen.cost.describe()
          << "; connection left " << std::string(seen.conn_status == CONNECTION_OK ? "CONNECTION_OK" : "not OK")
          << ", transaction status " << std::string(seen.transaction == PQTRANS_IDLE ? "PQTRANS_IDLE" : "not idle") << "; PQcancel under a Shield returned "
          << seen.cancel_sent << " '" << seen.cancel_error << "'; " << neighbours.describe());
  CHECK(seen.thread != std::this_thread::get_id());
  CHECK(seen.expired);
  // An error result (or NULL), naming the failed wait.
  CHECK((!seen.result || seen.status == PGRES_FATAL_ERROR));
  CHECK_MESSAGE(seen.error.find(std::strerror(ETIMEDOUT)) != std::string::npos, seen.error);
  weft_test::check_stopped_at_deadline(seen.cost, neighbours.stall(), "PQexec");  // not pg_sleep's 5 s
  neighbours.check_ticked_on();
  // The Shield let PQcancel connect and send, though the Timeout had expired.
  CHECK_MESSAGE(seen.cancel_sent == 1, "PQcancel: " << seen.cancel_error);

  // A new connection works, and the server has stopped the old query: its backend is
  // gone (PQfinish) or at least idle within 2 s, not still in pg_sleep(5).
  Conn fresh(PQconnectdb(conninfo.c_str()));
  REQUIRE_MESSAGE(PQstatus(fresh.get()) == CONNECTION_OK, PQerrorMessage(fresh.get()));
  Result one(PQexec(fresh.get(), "SELECT 1"));
  REQUIRE_MESSAGE(PQresultStatus(one.get()) == PGRES_TUPLES_OK, PQerrorMessage(fresh.get()));
  CHECK(std::string(PQgetvalue(one.get(), 0, 0)) == "1");
  std::string state;
  for (auto give_up = Clock::now() + 2s; Clock::now() < give_up; std::this_thread::sleep_for(10ms)) {
    state = backend_state(fresh.get(), seen.backend_pid);
    if (state != "active") break;
  }
  CHECK_MESSAGE(state != "active", "the old backend still runs pg_sleep(5)");
  CHECK(state.rfind("error", 0) != 0);
}
