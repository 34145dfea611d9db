// NOT A TEST (not built: the test glob wants test_*.cpp). A reproducer for the lead,
// found by tests/clients/test_hiredis_timeout.cpp's ticker check failing about 1 run in 20:
// a worker sometimes sleeps ~100 ms past its due timers. One worker; a fiber parked in
// hiredis BLPOP, a fiber that polls INFO until redis counts it blocked, then
// weft::sleep_for(200ms), then RPUSHes to release it (no cancel, no Timeout); a Ticker
// (2 ms hooked sleeps). In 2-4 rounds of 60 the ticker's worst gap is 100-102 ms, the
// 200 ms sleep_for takes 225-278 ms, and the worker thread's schedstat run_delay stays at
// 0-3 ms (it was not kept off the CPU: it slept past its timers). Same at 06c44ba, the
// commit before cancellation. Cause: not weft but this VM's kernel, whose epoll_pwait2
// sometimes returns ~100 ms after its timeout (epoll_oversleep_probe.cpp shows it with
// plain threads and no weft). To run it: add it to tests/CMakeLists.txt as test_<name>.cpp
// with PkgConfig::WEFT_HIREDIS linked, WEFT_THREADS=1.
#include <weft/weft.hpp>
#include "support/one_worker.hpp"
#include "support/redis_server.hpp"
#include "support/run_delay.hpp"
#include "support/ticker.hpp"
#include "support/timing.hpp"
#include <doctest/doctest.h>
#include <cstdio>
using namespace std::chrono_literals;
using weft_test::Clock; using weft_test::ms; using weft_test::Context; using weft_test::command;
TEST_CASE("gap") {
  weft_test::one_worker();
  weft_test::RedisServer server;
  REQUIRE(server.up());
  const int port = server.port();
  const pid_t tid = weft::spawn([] { return weft_test::this_thread_tid(); }).get();
  for (int round = 0; round < 60; ++round) {
    const auto d0 = weft_test::run_delay(tid);
    weft_test::Ticker ticker(2ms);
    auto victim = weft::spawn([port] { Context c(redisConnect("127.0.0.1", port)); auto r = command(c.get(), "BLPOP weft:x 5"); return r != nullptr; });
    auto releaser = weft::spawn([port] {
      Context c(redisConnect("127.0.0.1", port));
      bool seen = false;
      for (auto give_up = Clock::now() + 3s; Clock::now() < give_up && !seen; weft::sleep_for(5ms))
        seen = weft_test::info_field(c.get(), "clients", "blocked_clients") == "1";
      auto s0 = Clock::now();
      weft::sleep_for(200ms);
      auto slept = Clock::now() - s0;
      command(c.get(), "RPUSH weft:x v");
      return slept;
    });
    auto slept = releaser.get();
    victim.get();
    ticker.finish();
    std::fprintf(stderr, "round %d worst %lld slept %lld run_delay %lld\n", round, (long long)ms(ticker.worst_gap()), (long long)ms(slept), (long long)std::chrono::duration_cast<std::chrono::milliseconds>(weft_test::run_delay(tid) - d0).count());
  }
}
