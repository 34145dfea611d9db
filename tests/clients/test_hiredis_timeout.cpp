// Stopping a fiber inside hiredis's synchronous API (issue 15, item 6), against a real
// redis-server on 127.0.0.1, every fiber on ONE worker thread. hiredis 0.14 blocks in
// read() for a reply and retries only on EINTR; under an expired weft::Timeout (or after
// Unfuture::cancel) the hooked read returns -1/ETIMEDOUT (ECANCELED), so redisCommand
// gives up with REDIS_ERR_IO at once instead of waiting out `BLPOP key 5`.
//
// Each case also shows that the stop is cheap and private: a ticker fiber on the same
// worker keeps ticking every 2 ms throughout (a worker that blocked or spun would show as
// one long gap), and the process uses little CPU while the call waits (a client that
// retried the failed read in a loop would use a whole core).
//
// The ticker's bound allows one ~100 ms oversleep of the worker's epoll_pwait2, a quirk of
// the VMs these tests run on (support/epoll_oversleep.hpp); what it is there to catch, a
// worker blocked or spinning in the cancelled call, shows as a gap of seconds.
#include <weft/weft.hpp>

#include "support/cpu_time.hpp"
#include "support/deadlock_guard.hpp"
#include "support/epoll_oversleep.hpp"
#include "support/one_worker.hpp"
#include "support/run_delay.hpp"
#include "support/redis_server.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Context;
using weft_test::CostMeter;
using weft_test::ms;
using weft_test::Reply;
using weft_test::command;

namespace {

constexpr auto kTimeout = 200ms;
constexpr auto kTick = 2ms;
constexpr double kSpinShare = 0.5;  // a client that spins uses ~1 CPU second per second

weft_test::StallWatch stall_watch;

// What BLPOP returned, and what it cost.
struct Seen {
  std::string connect_error;
  bool reply = false;         // redisCommand returned a reply (nil, array or error)
  int reply_type = -1;
  int err = 0;                // the context's err after the call
  std::string errstr;
  int saved_errno = 0;
  bool expired = false;       // the Timeout said so after the call
  Clock::duration wall{};
  std::chrono::microseconds cpu{};
  double cpu_share = 0;
  std::thread::id thread;
};

void blpop(redisContext* c, const char* key, Seen& seen) {
  CostMeter meter;
  Reply r = command(c, "BLPOP %s 5", key);
  seen.saved_errno = errno;
  meter.stop();
  seen.wall = meter.wall();
  seen.cpu = meter.cpu();
  seen.cpu_share = meter.cpu_share();
  seen.reply = r != nullptr;
  if (r) seen.reply_type = r->type;
  seen.err = c->err;
  seen.errstr = c->errstr;
}

// The server is healthy and remembers nobody blocked: a new connection (after the old
// one was freed) gets PONG, and RPUSH/LPOP round-trips; redis-server counts no blocked
// client within 2 s (it sees the old connection's close on its next event loop turn).
void check_server_after(const weft_test::RedisServer& server) {
  Context c = server.connect();
  REQUIRE_MESSAGE((c && !c->err), "a new connection failed: " << (c ? c->errstr : "null"));
  Reply pong = command(c.get(), "PING");
  REQUIRE(pong);
  CHECK(std::string(pong->str, pong->len) == "PONG");
  Reply pushed = command(c.get(), "RPUSH weft:after %s", "still works");
  REQUIRE(pushed);
  CHECK(pushed->integer == 1);
  Reply popped = command(c.get(), "LPOP weft:after");
  REQUIRE(popped);
  CHECK(std::string(popped->str, popped->len) == "still works");
  std::string blocked;
  for (auto give_up = Clock::now() + 2s; Clock::now() < give_up; std::this_thread::sleep_for(5ms)) {
    blocked = weft_test::info_field(c.get(), "clients", "blocked_clients");
    if (blocked == "0") break;
  }
  CHECK_MESSAGE(blocked == "0", "redis-server still counts blocked clients: " << blocked);
}

}  // namespace

TEST_CASE("hiredis: BLPOP 5 under a weft::Timeout(200ms) fails in ~0.2 s, without a spin, and neighbours tick on") {
  weft_test::one_worker();
  weft_test::RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();

  stall_watch.reset();
  const pid_t worker = weft::spawn(weft_test::this_thread_tid).get();
  const auto worker_delay_before = weft_test::run_delay(worker);
  weft_test::Ticker ticker(kTick);  // on the one worker, as is the fiber below
  auto fiber = weft::spawn([port] {
    Seen seen;
    seen.thread = std::this_thread::get_id();
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) {
      seen.connect_error = c ? c->errstr : "redisConnect returned null";
      return seen;
    }
    weft::Timeout t(kTimeout);
    blpop(c.get(), "weft:timeout", seen);
    seen.expired = t.expired();
    c.reset();  // redisFree, still under the expired Timeout: close needs no wait
    return seen;
  });
  const Seen seen = weft_test::finish_or_die(fiber, "BLPOP under a Timeout never returned");
  ticker.finish();
  const auto stall = stall_watch.worst();
  const auto worker_delay = weft_test::run_delay(worker) - worker_delay_before;
  REQUIRE_MESSAGE(seen.connect_error.empty(), seen.connect_error);

  MESSAGE("BLPOP 5 under Timeout(200ms): reply " << (seen.reply ? "type " + std::to_string(seen.reply_type) : "NULL")
          << ", err " << seen.err << " '" << seen.errstr << "', errno " << seen.saved_errno << " ("
          << std::string(std::strerror(seen.saved_errno)) << "), after " << ms(seen.wall) << " ms, CPU "
          << seen.cpu.count() / 1000 << " ms (" << int(seen.cpu_share * 100) << "%); ticker worst gap "
          << ms(ticker.worst_gap()) << " ms over " << ticker.ticks() << " ticks (machine stall "
          << ms(stall) << " ms)");
  CHECK(seen.thread != std::this_thread::get_id());
  CHECK(seen.expired);
  // A NULL reply with the context's error set (an error reply would do, too).
  CHECK((!seen.reply || seen.reply_type == REDIS_REPLY_ERROR));
  CHECK(seen.err != 0);
  if (!seen.reply) CHECK(seen.err == REDIS_ERR_IO);
  CHECK(seen.wall >= kTimeout - 5ms);
  CHECK_MESSAGE(seen.wall < 150ms * WEFT_TEST_SLACK + kTimeout + stall, "took " << ms(seen.wall) << " ms");
  CHECK(seen.wall < 1s * WEFT_TEST_SLACK + stall);  // far from BLPOP's own 5 s
  CHECK_MESSAGE(seen.cpu_share < kSpinShare, "the process used " << int(seen.cpu_share * 100)
                                                                  << "% of a CPU while BLPOP waited");
  CHECK(ticker.ticks() >= 10);  // it ran during the call
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall + weft_test::kEpollOversleep,
                "the neighbour fiber waited " << ms(ticker.worst_gap()) << " ms between ticks (the worker waited "
                    << ms(worker_delay) << " ms in all for a CPU; machine stall " << ms(stall) << " ms)");

  check_server_after(server);
}

TEST_CASE("hiredis: Unfuture::cancel() of a fiber in BLPOP 5 ends it at once") {
  weft_test::one_worker();
  weft_test::RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();

  stall_watch.reset();
  const pid_t worker = weft::spawn(weft_test::this_thread_tid).get();
  const auto worker_delay_before = weft_test::run_delay(worker);
  weft_test::Ticker ticker(kTick);
  auto victim = weft::spawn([port] {
    Seen seen;
    seen.thread = std::this_thread::get_id();
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) {
      seen.connect_error = c ? c->errstr : "redisConnect returned null";
      return seen;
    }
    blpop(c.get(), "weft:cancel", seen);
    return seen;
  });
  // A fiber on the same worker cancels it 200 ms after redis-server counts it blocked in
  // BLPOP (so the CPU it used while parked is measured over a while).
  struct Cancelled {
    bool blocked_seen = false;
    bool cancel_result = false;
    Clock::time_point at;
  };
  auto canceller = weft::spawn([port, &victim] {
    Cancelled out;
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) return out;
    for (auto give_up = Clock::now() + 3s; Clock::now() < give_up && !out.blocked_seen; weft::sleep_for(5ms)) {
      out.blocked_seen = weft_test::info_field(c.get(), "clients", "blocked_clients") == "1";
    }
    weft::sleep_for(200ms);
    out.at = Clock::now();
    out.cancel_result = victim.cancel();
    return out;
  });
  const Cancelled cancelled = weft_test::finish_or_die(canceller, "the canceller never returned");
  const Seen seen = weft_test::finish_or_die(victim, "the cancelled BLPOP never returned");
  const auto returned = Clock::now();
  ticker.finish();
  const auto stall = stall_watch.worst();
  const auto worker_delay = weft_test::run_delay(worker) - worker_delay_before;
  REQUIRE_MESSAGE(seen.connect_error.empty(), seen.connect_error);
  REQUIRE_MESSAGE(cancelled.blocked_seen, "redis-server never counted the victim blocked in BLPOP");

  const auto after_cancel = returned - cancelled.at;
  MESSAGE("cancelled BLPOP 5: reply " << (seen.reply ? "type " + std::to_string(seen.reply_type) : "NULL")
          << ", err " << seen.err << " '" << seen.errstr << "', errno " << seen.saved_errno << " ("
          << std::string(std::strerror(seen.saved_errno)) << "), after " << ms(seen.wall) << " ms (at most "
          << ms(after_cancel) << " ms after the cancel), CPU " << seen.cpu.count() / 1000 << " ms ("
          << int(seen.cpu_share * 100) << "%); ticker worst gap " << ms(ticker.worst_gap())
          << " ms (machine stall " << ms(stall) << " ms)");
  CHECK(cancelled.cancel_result);  // it was still running
  CHECK((!seen.reply || seen.reply_type == REDIS_REPLY_ERROR));
  CHECK(seen.err != 0);
  if (!seen.reply) CHECK(seen.err == REDIS_ERR_IO);
  CHECK_MESSAGE(after_cancel < 100ms * WEFT_TEST_SLACK + stall,
                "BLPOP returned " << ms(after_cancel) << " ms after the cancel");
  CHECK(seen.wall >= 200ms);  // it was parked in BLPOP until the cancel
  CHECK(seen.wall < 1s * WEFT_TEST_SLACK + stall);
  CHECK_MESSAGE(seen.cpu_share < kSpinShare, "the process used " << int(seen.cpu_share * 100)
                                                                  << "% of a CPU while BLPOP waited");
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall + weft_test::kEpollOversleep,
                "the neighbour fiber waited " << ms(ticker.worst_gap()) << " ms between ticks (the worker waited "
                    << ms(worker_delay) << " ms in all for a CPU; machine stall " << ms(stall) << " ms)");

  check_server_after(server);
}
