// hiredis's synchronous API, unchanged, against a real redis-server on 127.0.0.1, from
// fibers that all run on ONE worker thread (issue 3, item 4). Each fiber uses its own
// connection the way a naive user would: redisConnect, a blocking BLPOP, redisFree. The
// shims turn hiredis's blocking connect/poll/write/read into parked fibers, so 1,000
// BLPOPs with a 0.2 s timeout take about 0.2 s together, not 200 s.
//
// The test starts its own redis-server (a child process, stopped by PID at the end) on a
// free port with --maxclients 4000, after raising RLIMIT_NOFILE to the hard limit: 1,000
// connections need more than the usual soft limit of 1,024 descriptors, here and there.
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/redis_server.hpp"
#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdarg>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;
using weft_test::Context;
using weft_test::Reply;
using weft_test::RedisServer;
using weft_test::command;

namespace {

constexpr int kFibers = 1000;
constexpr auto kBlock = 200ms;  // BLPOP's timeout ("0.2")

weft_test::StallWatch stall_watch;

// What one fiber saw.
struct Outcome {
  std::string error;  // hiredis's errstr, or what was wrong with the reply
  int reply_type = -1;
  Clock::duration blocked{};  // how long BLPOP took
  std::thread::id thread;
};

// Connects, BLPOPs `key` with a 0.2 s timeout, disconnects: hiredis's blocking API as is.
Outcome blpop_alone(int port, const std::string& key) {
  Outcome out;
  out.thread = std::this_thread::get_id();
  Context c(redisConnect("127.0.0.1", port));
  if (!c || c->err) {
    out.error = c ? c->errstr : "redisConnect returned null";
    return out;
  }
  const auto start = Clock::now();
  Reply r = command(c.get(), "BLPOP %s 0.2", key.c_str());
  out.blocked = Clock::now() - start;
  if (!r) {
    out.error = std::string("BLPOP failed: ") + c->errstr;
    return out;
  }
  out.reply_type = r->type;
  if (r->type == REDIS_REPLY_ERROR) out.error = std::string(r->str, r->len);
  return out;
}

std::string config_get(redisContext* c, const char* name) {
  Reply r = command(c, "CONFIG GET %s", name);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return "";
  return std::string(r->element[1]->str, r->element[1]->len);
}

}  // namespace

TEST_CASE("hiredis: a fiber's BLPOP is served by an RPUSH from another fiber on the same worker") {
  one_worker();
  weft_test::raise_fd_limit();
  RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();

  struct Popped {
    std::string error, key, value;
    Clock::duration waited{};
    Clock::time_point done;
    std::thread::id thread;
  };
  auto popper = weft::spawn([port] {
    Popped p;
    p.thread = std::this_thread::get_id();
    Context c(redisConnect("127.0.0.1", port));
    if (!c || c->err) {
      p.error = c ? c->errstr : "redisConnect returned null";
      return p;
    }
    const auto start = Clock::now();
    Reply r = command(c.get(), "BLPOP weft:handoff 5");
    p.done = Clock::now();
    p.waited = p.done - start;
    if (!r) {
      p.error = c->errstr;
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      p.error = "unexpected reply type " + std::to_string(r->type);
    } else {
      p.key.assign(r->element[0]->str, r->element[0]->len);
      p.value.assign(r->element[1]->str, r->element[1]->len);
    }
    return p;
  });
  auto pusher = weft::spawn([port] {
    weft::sleep_for(100ms);  // the popper is parked in BLPOP by now
    Context c(redisConnect("127.0.0.1", port));
    const auto sent = Clock::now();
    if (!c || c->err) return std::pair(-1LL, sent);
    Reply r = command(c.get(), "RPUSH weft:handoff %s", "hello from a fiber");
    return std::pair(r && r->type == REDIS_REPLY_INTEGER ? r->integer : -2LL, sent);
  });

  const auto [pushed, sent] = pusher.get();
  CHECK(pushed == 1);  // the list had one element after the push
  const Popped p = popper.get();
  REQUIRE_MESSAGE(p.error.empty(), p.error);
  CHECK(p.key == "weft:handoff");
  CHECK(p.value == "hello from a fiber");
  CHECK(p.done >= sent);  // BLPOP returned because of the push, not before it
  CHECK(p.waited >= 50ms);
  CHECK_MESSAGE(p.waited < 1s * WEFT_TEST_SLACK, "BLPOP waited " << ms(p.waited) << " ms");
  CHECK(p.thread != std::this_thread::get_id());
}

TEST_CASE("hiredis: 1,000 fibers on one worker, each its own connection and a 0.2 s BLPOP") {
  one_worker();
  const rlim_t fd_limit = weft_test::raise_fd_limit();
  REQUIRE_MESSAGE(fd_limit >= kFibers + 200, "RLIMIT_NOFILE hard limit is only " << fd_limit);
  RedisServer server;
  REQUIRE_MESSAGE(server.up(), "redis-server did not start:\n" << server.log());
  const int port = server.port();
  {
    // redis-server lowers maxclients to what its own descriptor limit allows.
    Context admin = server.connect();
    REQUIRE((admin && !admin->err));
    const std::string maxclients = config_get(admin.get(), "maxclients");
    INFO("redis-server maxclients: " << maxclients);
    CHECK(std::stol(maxclients.empty() ? "0" : maxclients) >= kFibers + 100);
  }

  // The reference: one BLPOP alone, connection included.
  stall_watch.reset();
  const auto ref_start = Clock::now();
  const Outcome ref = weft::spawn(blpop_alone, port, std::string("weft:empty:reference")).get();
  const auto reference = Clock::now() - ref_start;
  REQUIRE_MESSAGE(ref.error.empty(), ref.error);
  CHECK(ref.reply_type == REDIS_REPLY_NIL);
  CHECK(ref.blocked >= kBlock - 5ms);

  stall_watch.reset();
  const auto start = Clock::now();
  std::vector<weft::Unfuture<Outcome>> fibers;
  fibers.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(weft::spawn(blpop_alone, port, "weft:empty:" + std::to_string(i)));
  }
  const std::vector<Outcome> outcomes = weft::when_all(fibers).get();
  const auto elapsed = Clock::now() - start;
  const auto stall = stall_watch.worst();

  int nil = 0;
  std::set<std::thread::id> threads;
  Clock::duration shortest = Clock::duration::max();
  std::string first_error;
  for (const Outcome& o : outcomes) {
    if (!o.error.empty() && first_error.empty()) first_error = o.error;
    if (o.reply_type == REDIS_REPLY_NIL) ++nil;
    threads.insert(o.thread);
    if (o.error.empty()) shortest = std::min(shortest, o.blocked);
  }
  MESSAGE("one BLPOP alone: " << ms(reference) << " ms; " << kFibers << " at once: " << ms(elapsed)
                              << " ms (machine stall " << ms(stall) << " ms)");
  CHECK_MESSAGE(first_error.empty(), first_error);
  CHECK(nil == kFibers);  // every BLPOP timed out: a nil reply
  CHECK(shortest >= kBlock - 5ms);  // each really waited for the server's timeout
  CHECK(threads.size() == 1);  // all on the one worker
  CHECK(threads.count(std::this_thread::get_id()) == 0);
  CHECK_MESSAGE(elapsed < 1s * WEFT_TEST_SLACK + stall, "took " << ms(elapsed) << " ms");
  CHECK_MESSAGE(elapsed < 4 * reference * WEFT_TEST_SLACK + stall,
                "took " << ms(elapsed) << " ms, one alone " << ms(reference) << " ms");

  Context admin = server.connect();
  REQUIRE((admin && !admin->err));
  Reply info = command(admin.get(), "INFO stats");
  REQUIRE(info);
  CHECK(std::string(info->str, info->len).find("rejected_connections:0\r\n") != std::string::npos);
}
