// libmemcachedutil's connection pool, unchanged, against a real memcached on 127.0.0.1,
// from fibers that all run on ONE worker thread (issue 14). The pool is a mutex and a
// condition variable around a stack of connections: memcached_pool_pop(block = true) waits
// in pthread_cond_timedwait while every connection is out. Twenty fibers share a pool of
// two, each holding its connection across a sleep: without cooperative locks the third
// fiber's wait blocks the worker while the two holders sleep on that same worker, and
// nothing ever runs again (the test's timeout). With them, the fibers take turns, and a
// ticker fiber on the same worker keeps its pace.
//
// The test starts its own memcached (a child process, stopped by PID at the end).
#include <weft/weft.hpp>

#include "support/one_worker.hpp"
#include "support/memcached_server.hpp"
#include "support/stall_watch.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>
#include <libmemcached/memcached.h>
#include <libmemcachedutil-1.0/util.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::ms;
using weft_test::one_worker;

namespace {

constexpr int kFibers = 20;
constexpr int kPoolSize = 2;
constexpr auto kHold = 20ms;  // how long each fiber keeps its connection
constexpr auto kTick = 5ms;

weft_test::StallWatch stall_watch;

struct PoolDestroy {
  void operator()(memcached_pool_st* p) const {
    if (memcached_st* base = memcached_pool_destroy(p)) memcached_free(base);
  }
};
using Pool = std::unique_ptr<memcached_pool_st, PoolDestroy>;

Pool make_pool(int port) {
  const std::string options = "--SERVER=127.0.0.1:" + std::to_string(port) + " --POOL-MIN=" +
                              std::to_string(kPoolSize) + " --POOL-MAX=" + std::to_string(kPoolSize);
  return Pool(memcached_pool(options.c_str(), options.size()));
}

struct Outcome {
  std::string error;
  std::thread::id thread;
};

}  // namespace

TEST_CASE("libmemcachedutil: 20 fibers on one worker share a pool of 2, popping with block = true") {
  one_worker();
  weft_test::MemcachedServer server;
  REQUIRE_MESSAGE(server.up(), "memcached did not start:\n" << server.log());
  Pool pool = make_pool(server.port());
  REQUIRE(pool != nullptr);

  std::atomic<int> holding{0}, most_holding{0};
  auto use_pool = [&](int i) {
    Outcome out;
    out.thread = std::this_thread::get_id();
    memcached_return_t rc = MEMCACHED_SUCCESS;
    memcached_st* mc = memcached_pool_pop(pool.get(), true, &rc);
    if (mc == nullptr) {
      out.error = std::string("pop: ") + memcached_strerror(nullptr, rc);
      return out;
    }
    const int now_holding = ++holding;
    int seen = most_holding.load();
    while (now_holding > seen && !most_holding.compare_exchange_weak(seen, now_holding)) {
    }
    const std::string key = "weft:pool:" + std::to_string(i), value = "value " + std::to_string(i);
    rc = memcached_set(mc, key.data(), key.size(), value.data(), value.size(), 0, 0);
    std::this_thread::sleep_for(kHold);  // the connection stays out meanwhile
    std::size_t length = 0;
    std::uint32_t flags = 0;
    memcached_return_t get_rc = MEMCACHED_SUCCESS;
    char* got = memcached_get(mc, key.data(), key.size(), &length, &flags, &get_rc);
    if (rc != MEMCACHED_SUCCESS) {
      out.error = std::string("set: ") + memcached_strerror(mc, rc);
    } else if (got == nullptr || std::string(got, length) != value) {
      out.error = std::string("get: ") + memcached_strerror(mc, get_rc);
    }
    std::free(got);
    --holding;
    memcached_pool_push(pool.get(), mc);
    return out;
  };

  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  const auto start = Clock::now();
  std::vector<weft::Unfuture<Outcome>> fibers;
  for (int i = 0; i < kFibers; ++i) fibers.push_back(weft::spawn(use_pool, i));
  const std::vector<Outcome> outcomes = weft::when_all(fibers).get();
  const auto elapsed = Clock::now() - start;
  ticker.finish();
  const auto stall = stall_watch.worst();

  for (const Outcome& o : outcomes) {
    CHECK_MESSAGE(o.error.empty(), o.error);
    CHECK(o.thread == outcomes[0].thread);  // all on the one worker
  }
  MESSAGE(kFibers << " fibers through a pool of " << kPoolSize << ": " << ms(elapsed) << " ms; ticker's worst gap "
                  << ms(ticker.worst_gap()) << " ms over " << ticker.ticks() << " ticks (machine stall " << ms(stall)
                  << " ms)");
  CHECK(most_holding.load() == kPoolSize);  // the pool really ran out (and never gave more)
  // Ten turns of two holders at least: the waits really waited for a push.
  CHECK(elapsed >= (kFibers / kPoolSize) * kHold - 2ms);
  // The worker kept running other fibers while the pool was empty.
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}

TEST_CASE("libmemcachedutil: a fetch with a timeout on an empty pool gives up in time, the worker running on") {
  one_worker();
  weft_test::MemcachedServer server;
  REQUIRE_MESSAGE(server.up(), "memcached did not start:\n" << server.log());
  Pool pool = make_pool(server.port());
  REQUIRE(pool != nullptr);

  // Both connections out, held by this plain thread.
  memcached_return_t rc = MEMCACHED_SUCCESS;
  memcached_st* a = memcached_pool_pop(pool.get(), false, &rc);
  memcached_st* b = memcached_pool_pop(pool.get(), false, &rc);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);

  stall_watch.reset();
  weft_test::Ticker ticker(kTick);
  struct Fetched {
    memcached_return_t rc;
    bool got;
    Clock::duration waited;
  };
  const Fetched f = weft::spawn([&] {
                      // libmemcached's deadline is time(NULL) + 2 s with the fraction
                      // dropped: between 1 and 2 s from now.
                      timespec relative{2, 0};
                      memcached_return_t r = MEMCACHED_SUCCESS;
                      const auto t0 = Clock::now();
                      memcached_st* mc = memcached_pool_fetch(pool.get(), &relative, &r);
                      const auto waited = Clock::now() - t0;
                      if (mc != nullptr) memcached_pool_push(pool.get(), mc);
                      return Fetched{r, mc != nullptr, waited};
                    }).get();
  ticker.finish();
  const auto stall = stall_watch.worst();
  memcached_pool_push(pool.get(), a);
  memcached_pool_push(pool.get(), b);

  MESSAGE("fetch gave up after " << ms(f.waited) << " ms; ticker's worst gap " << ms(ticker.worst_gap()) << " ms");
  CHECK_FALSE(f.got);
  CHECK(f.rc == MEMCACHED_TIMEOUT);
  CHECK(f.waited >= 900ms);  // it really waited (for the ticker to show anything)
  CHECK(f.waited < 2s + 500ms * WEFT_TEST_SLACK + stall);
  CHECK(ticker.ticks() > 10);
  CHECK_MESSAGE(ticker.worst_gap() < 50ms * WEFT_TEST_SLACK + stall, "ticker stalled " << ms(ticker.worst_gap()) << " ms");
}
