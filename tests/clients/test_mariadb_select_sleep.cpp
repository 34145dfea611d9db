// MariaDB Connector/C, unchanged, against a real mariadbd on 127.0.0.1, from fibers that all
// run on ONE worker thread (issue 16, item 6). The connector's blocking API waits for its
// socket in poll() (with its read and connect timeouts as poll's timeout); the shims park
// the fiber there instead, so:
// - 20 fibers each running SELECT SLEEP(0.2) on their own connection take about 0.2 s
//   together, as 20 plain threads do, where one thread running them in turn takes 4 s;
// - a read timeout (MYSQL_OPT_READ_TIMEOUT=1 against SELECT SLEEP(5)) fails the query after
//   as long as it does on a plain thread, while a ticker fiber on the same worker ticks on;
// - a connect timeout (MYSQL_OPT_CONNECT_TIMEOUT=1) against a listener that completes the
//   TCP handshake and never says a word fails as on a plain thread, the ticker ticking on.
//
// The server is a throwaway datadir (support/mariadb_server.hpp), stopped by PID at the end.
#include <weft/weft.hpp>

#include "support/mariadb_server.hpp"
#include "support/fan_out.hpp"
#include "support/one_worker.hpp"
#include "support/server_process.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <errmsg.h>
#include <mysql.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::MariadbServer;
using weft_test::Mysql;
using weft_test::MysqlResult;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kFibers = 20;
constexpr auto kSleep = 200ms;  // SELECT SLEEP(0.2)
constexpr auto kTick = 5ms;

weft_test::StallWatch stall_watch;

// What one connection's query saw.
struct Outcome {
  std::string error;
  Clock::duration queried{};  // how long mysql_query took
  unsigned long connection_id = 0;
  unsigned error_number = 0;  // mysql_errno after a failed query
  std::thread::id thread;
};

// SELECT SLEEP(<seconds>), CONNECTION_ID() on m: the connector's blocking mysql_query as is.
// SLEEP answers 0 when it slept its full time, 1 when the server cut it short.
void sleep_query(MYSQL* m, const char* seconds, Outcome& out) {
  const std::string sql = std::string("SELECT SLEEP(") + seconds + "), CONNECTION_ID()";
  const auto start = Clock::now();
  const int rc = mysql_query(m, sql.c_str());
  out.queried = Clock::now() - start;
  if (rc != 0) {
    out.error = mysql_error(m);
    out.error_number = mysql_errno(m);
    return;
  }
  MysqlResult r(mysql_store_result(m));
  MYSQL_ROW row = r ? mysql_fetch_row(r.get()) : nullptr;
  if (row == nullptr || mysql_num_fields(r.get()) != 2) {
    out.error = "expected one row of 2 columns";
    return;
  }
  if (std::string(row[0]) != "0") out.error = std::string("SLEEP answered ") + row[0];
  out.connection_id = std::stoul(row[1]);
}

Outcome connect_and_sleep(const MariadbServer& server) {
  Outcome out;
  out.thread = std::this_thread::get_id();
  Mysql m = server.connect(out.error);
  if (m) sleep_query(m.get(), "0.2", out);
  return out;
}

// A TCP listener on 127.0.0.1 that nobody accepts from: the kernel completes a client's
// handshake into the backlog, and no server greeting ever comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// mysql_real_connect to `port` with MYSQL_OPT_CONNECT_TIMEOUT=1: how long until it failed,
// and its error number (0 if it connected).
struct Refused {
  Clock::duration waited{};
  unsigned error = 0;
};
Refused connect_with_timeout(int port) {
  Mysql m(mysql_init(nullptr));
  unsigned timeout = 1;
  mysql_options(m.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  const auto start = Clock::now();
  MYSQL* ok = mysql_real_connect(m.get(), "127.0.0.1", "root", nullptr, nullptr, static_cast<unsigned>(port),
                                 nullptr, 0);
  return Refused{Clock::now() - start, ok ? 0u : mysql_errno(m.get())};
}

}  // namespace

TEST_CASE("MariaDB Connector/C: 20 fibers on one worker, each its own connection and SELECT SLEEP(0.2)") {
  one_worker();
  MariadbServer server;
  REQUIRE_MESSAGE(server.up(), server.problem());

  // References in the same run: 20 plain threads at once, and one plain thread in turn.
  stall_watch.reset();
  auto connect_and_sleep_on = [&](int) { return connect_and_sleep(server); };
  Clock::duration threads_took{}, fibers_took{};
  const std::vector<Outcome> by_threads = weft_test::on_threads(kFibers, connect_and_sleep_on, threads_took);
  for (const Outcome& o : by_threads) REQUIRE_MESSAGE(o.error.empty(), o.error);
  const auto serial_took = weft_test::took([&] {
    for (int i = 0; i < kFibers; ++i) REQUIRE(connect_and_sleep(server).error.empty());
  });

  stall_watch.reset();
  const std::vector<Outcome> outcomes = weft_test::in_fibers(kFibers, connect_and_sleep_on, fibers_took);
  const auto stall = stall_watch.worst();

  std::set<unsigned long> connections;
  std::set<std::thread::id> threads;
  for (const Outcome& o : outcomes) {
    CHECK_MESSAGE(o.error.empty(), o.error);  // a query the shims broke (EAGAIN leaking out, a lost wake)
    CHECK(o.queried >= kSleep);                // each really waited for the server's SLEEP
    connections.insert(o.connection_id);
    threads.insert(o.thread);
  }
  MESSAGE(kFibers << " x SELECT SLEEP(0.2): fibers on one worker " << ms(fibers_took) << " ms, " << kFibers
                  << " plain threads " << ms(threads_took) << " ms, one plain thread in turn " << ms(serial_took)
                  << " ms (machine stall " << ms(stall) << " ms)");
  CHECK(connections.size() == static_cast<std::size_t>(kFibers));  // each its own server connection
  CHECK(threads.size() == 1);                                       // all on the one worker
  CHECK(serial_took >= kFibers * kSleep);  // the reference really is serial: the server's sleeps add up
  // The queries overlap as the threads' do; a worker blocked in the connector's poll would
  // run them in turn, like the serial reference (4 s).
  CHECK_MESSAGE(fibers_took < 2 * threads_took + 200ms * WEFT_TEST_SLACK + stall,
                "fibers " << ms(fibers_took) << " ms, threads " << ms(threads_took) << " ms");
  CHECK(fibers_took < serial_took / 4 + stall);
}

TEST_CASE("MariaDB Connector/C: MYSQL_OPT_READ_TIMEOUT=1 against SELECT SLEEP(5) fails in a fiber as on a thread") {
  one_worker();
  MariadbServer server;
  REQUIRE_MESSAGE(server.up(), server.problem());

  auto timed_out_query = [&] {
    Outcome out;
    Mysql m = server.connect(out.error, 1);
    if (!m) return out;
    sleep_query(m.get(), "5", out);
    return out;
  };
  const Outcome on_thread = timed_out_query();  // the reference, on this plain thread

  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  const Outcome in_fiber = weft::spawn(timed_out_query).get();
  ticker.finish();
  const auto stall = stall_watch.worst();

  MESSAGE("read timeout: plain thread failed after " << ms(on_thread.queried) << " ms (" << on_thread.error
                                                     << "), fiber after " << ms(in_fiber.queried) << " ms ("
                                                     << in_fiber.error << "); ticker's worst gap "
                                                     << ms(ticker.worst_gap()) << " ms over " << ticker.ticks()
                                                     << " ticks (machine stall " << ms(stall) << " ms)");
  // Both fail with the connector's "lost connection" (2013), not a success after 5 s (a
  // timeout the shim ignored) nor another error (EAGAIN taken for a broken socket).
  REQUIRE(on_thread.error_number == CR_SERVER_LOST);
  CHECK(in_fiber.error_number == CR_SERVER_LOST);
  CHECK(in_fiber.queried >= 900ms);  // it waited for the timeout, not failing at once
  CHECK_MESSAGE(in_fiber.queried < on_thread.queried + 300ms * WEFT_TEST_SLACK + stall,
                "fiber " << ms(in_fiber.queried) << " ms, thread " << ms(on_thread.queried) << " ms");
  // The worker ran other fibers while the connector waited (a blocked worker: one long gap).
  CHECK(ticker.ticks() > 50);
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}

TEST_CASE("MariaDB Connector/C: MYSQL_OPT_CONNECT_TIMEOUT=1 to a listener that never answers, in a fiber as on a thread") {
  one_worker();
  SilentListener silent;
  REQUIRE(silent.port() > 0);

  const Refused on_thread = connect_with_timeout(silent.port());
  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  const Refused in_fiber = weft::spawn([&] { return connect_with_timeout(silent.port()); }).get();
  ticker.finish();
  const auto stall = stall_watch.worst();

  MESSAGE("connect timeout: plain thread failed after " << ms(on_thread.waited) << " ms (error " << on_thread.error
                                                        << "), fiber after " << ms(in_fiber.waited) << " ms (error "
                                                        << in_fiber.error << "); ticker's worst gap "
                                                        << ms(ticker.worst_gap()) << " ms (machine stall " << ms(stall)
                                                        << " ms)");
  REQUIRE(on_thread.error != 0);
  CHECK(in_fiber.error == on_thread.error);  // the same failure the connector reports on a thread
  CHECK(in_fiber.waited >= 900ms);           // the timeout was honoured, not an instant failure
  CHECK_MESSAGE(in_fiber.waited < on_thread.waited + 300ms * WEFT_TEST_SLACK + stall,
                "fiber " << ms(in_fiber.waited) << " ms, thread " << ms(on_thread.waited) << " ms");
  CHECK(ticker.ticks() > 50);
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}
