// weft::to_string(const Stats&): every figure in its place, wait kinds by name and only
// those some fiber waits on, the line about room in a pool only when someone waits for it.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

TEST_CASE("to_string(Stats) puts each figure on its line") {
  weft::Stats s;
  s.workers = 2;
  s.switches = 1234;
  s.reactor_polls = 56;
  s.spawned = 200;
  s.unstarted = 3;
  s.running = 1;
  s.runnable = 2;
  s.parked = 130;
  s.parked_on[static_cast<std::size_t>(weft::WaitKind::event)] = 100;
  s.parked_on[static_cast<std::size_t>(weft::WaitKind::fd_read)] = 30;
  s.blocking = {.threads = 4, .busy = 2, .queued = 1, .pending = 0};
  s.resolver = {.threads = 1, .busy = 0, .queued = 0, .pending = 5};
  s.processes = {.slots = 2, .workers = 1, .running = 1, .queued = 7};
  CHECK(weft::to_string(s) ==
        "weft: 2 workers, 1234 switches, 56 reactor polls\n"
        "fibers: 133 live (1 running, 2 runnable, 130 parked), 3 not started, 200 spawned\n"
        "parked on: fd read 30, event 100\n"
        "blocking pool: 4 threads, 2 busy, 1 queued\n"
        "resolver pool: 1 thread, 0 busy, 0 queued, 5 waiting for room\n"
        "process pool: 1 of 2 worker processes, 1 running, 7 queued\n");
}

TEST_CASE("to_string(Stats) leaves out the parked line when nothing is parked") {
  weft::Stats s;
  s.workers = 1;
  const std::string text = weft::to_string(s);
  CHECK(text.find("parked on") == std::string::npos);
  CHECK(text.find("process pool: not started") != std::string::npos);
}

TEST_CASE("Stats::parked_on has a slot for every wait kind") {
  // A kind added after `once` would have a name, but no slot to be counted in.
  CHECK(std::string(weft::to_string(static_cast<weft::WaitKind>(weft::kWaitKindCount))) == "?");
  CHECK(std::string(weft::to_string(static_cast<weft::WaitKind>(weft::kWaitKindCount - 1))) != "?");
}
