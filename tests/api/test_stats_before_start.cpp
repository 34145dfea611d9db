// weft::stats() before anything starts the runtime: all zero, and it does not start the
// runtime itself (configure, which refuses once the runtime runs, still works after it).
#include <weft/weft.hpp>

#include <doctest/doctest.h>

TEST_CASE("stats() before the runtime starts is all zero and starts nothing") {
  const weft::Stats s = weft::stats();
  CHECK(s.workers == 0);
  CHECK(s.spawned == 0);
  CHECK(s.live() == 0);
  CHECK(s.switches == 0);
  CHECK(s.blocking.threads == 0);
  CHECK(s.processes.slots == 0);
  CHECK(weft::to_string(s) == "weft: not started\n");

  CHECK_NOTHROW(weft::configure({.threads = 3}));  // throws once the runtime has started
  weft::run([] {});
  const weft::Stats started = weft::stats();
  CHECK(started.workers == 3);
  CHECK(started.spawned == 1);
}
