// Stopping a fiber inside hiredis's synchronous API (issue 15, item 6), against a real
// redis-server on 127.0.0.1, every fiber on ONE worker thread. hiredis 0.14 blocks in
// read() for a reply and retries only on EINTR; under an expired weft::Timeout (or after
// Unfuture::cancel) the hooked read returns -1/ETIMEDOUT (ECANCELED), so redisCommand
// gives up with REDIS_ERR_IO at once instead of waiting out `BLPOP key 5`.
//
// Each case also shows that the stop is cheap and private (support/stopped_call.hpp): a
// neighbour fiber on the same worker keeps ticking throughout, and the process uses little
// CPU while the call waits.
#include <weft/weft.hpp>

#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"
#include "support/redis_server.hpp"
#include "support/stopped_call.hpp"

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
using weft_test::kStopAfter;
using weft_test::ms;
using weft_test::Reply;
using weft_test::command;

namespace {

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
  weft_test::CallCost cost;
  std::thread::id thread;
};

void blpop(redisContext* c, const char* key, Seen& seen) {
  CostMeter meter;
  Reply r = command(c, "BLPOP %s 5", key);
  seen.saved_errno = errno;
  meter.stop();
  seen.cost.take(meter);
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

// A NULL reply with the context's error set (an error reply would do, too).
void check_failed_as_io_error(const Seen& seen) {
  CHECK((!seen.reply || seen.reply_type == REDIS_REPLY_ERROR));
  CHECK(seen.err != 0);
  if (!seen.reply) CHECK(seen.err == REDIS_ERR_IO);
}

std::string describe(const Seen& seen) {
  return "reply " + (seen.reply ? "type " + std::to_string(seen.reply_type) : std::string("NULL")) + ", err " +
         std::to_string(seen.err) + " '" + seen.errstr + "', errno " + std::to_string(seen.saved_errno) + " (" +
         std::strerror(seen.saved_errno) + ")";
}

}  // namespace

TEST_CASE("hiredis: BLPOP 5 under a weft::Timeout(200ms) fails in ~0.2 s, without a spin, and neighbours tick on") {
  weft_test::one_worker();
  weft_test::RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();

  weft_test::Neighbours neighbours(stall_watch);  // on the one worker, as is the fiber below
  auto fiber = weft::spawn([port] {
    Seen seen;
    seen.thread = std::this_thread::get_id();
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) {
      seen.connect_error = c ? c->errstr : "redisConnect returned null";
      return seen;
    }
    weft::Timeout t(kStopAfter);
    blpop(c.get(), "weft:timeout", seen);
    seen.expired = t.expired();
    c.reset();  // redisFree, still under the expired Timeout: close needs no wait
    return seen;
  });
  const Seen seen = weft_test::finish_or_die(fiber, "BLPOP under a Timeout never returned");
  neighbours.finish();
  REQUIRE_MESSAGE(seen.connect_error.empty(), seen.connect_error);

  MESSAGE("BLPOP 5 under Timeout(200ms): " << describe(seen) << ", " << seen.cost.describe() << "; "
          << neighbours.describe());
  CHECK(seen.thread != std::this_thread::get_id());
  CHECK(seen.expired);
  check_failed_as_io_error(seen);
  weft_test::check_stopped_at_deadline(seen.cost, neighbours.stall(), "BLPOP");
  neighbours.check_ticked_on();

  check_server_after(server);
}

TEST_CASE("hiredis: Unfuture::cancel() of a fiber in BLPOP 5 ends it at once") {
  weft_test::one_worker();
  weft_test::RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();

  weft_test::Neighbours neighbours(stall_watch);
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
  neighbours.finish();
  REQUIRE_MESSAGE(seen.connect_error.empty(), seen.connect_error);
  REQUIRE_MESSAGE(cancelled.blocked_seen, "redis-server never counted the victim blocked in BLPOP");

  const auto after_cancel = returned - cancelled.at;
  MESSAGE("cancelled BLPOP 5: " << describe(seen) << ", " << seen.cost.describe() << " (at most "
          << ms(after_cancel) << " ms after the cancel); " << neighbours.describe());
  CHECK(cancelled.cancel_result);  // it was still running
  check_failed_as_io_error(seen);
  CHECK_MESSAGE(after_cancel < 100ms * WEFT_TEST_SLACK + neighbours.stall(),
                "BLPOP returned " << ms(after_cancel) << " ms after the cancel");
  // Parked in BLPOP from before the cancel (200 ms after redis-server counted it blocked).
  weft_test::check_stopped_at_deadline(seen.cost, neighbours.stall() + after_cancel, "BLPOP");
  neighbours.check_ticked_on();

  check_server_after(server);
}
