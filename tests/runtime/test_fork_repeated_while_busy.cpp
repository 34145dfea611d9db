// fork() 50 times, from fibers and from a plain thread, while fibers on both workers pass
// bytes over sockets, spawn and join, and call spawn_blocking: every child gets a working
// weft (and ends by exit() or _exit), and the parent's fibers keep going. Fork races (a
// lock held by another thread at the fork, an fd record half-written) show up only by
// repetition. The order of fork sites, endings and pauses comes from a seed, printed on
// failure; WEFT_TEST_SEED=<seed> replays it.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include "support/child_process.hpp"
#include "support/weft_after_fork.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kForks = 50;

std::atomic<bool> stop{false};
std::atomic<long> round_trips{0};
std::atomic<long> spawns{0};
weft_test::LoadPause load_pause;        // under the sanitizers only (weft_after_fork.hpp)
constexpr int kPausingFibers = 7;  // 4 ping fibers, 2 spawners, 1 spawn_blocking caller

// Two fibers passing one byte back and forth over a socketpair until stop.
void start_ping_pong(std::vector<weft::Unfuture<void>>& out) {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  out.push_back(weft::spawn([fd = sv[0]] {
    char c = 'x';
    while (!stop.load() && ::write(fd, &c, 1) == 1 && ::read(fd, &c, 1) == 1) {
      round_trips.fetch_add(1);
      load_pause.pause_point();
    }
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }));
  out.push_back(weft::spawn([fd = sv[1]] {
    char c;
    while (::read(fd, &c, 1) == 1 && ::write(fd, &c, 1) == 1) {
    }
    ::close(fd);
  }));
}

std::uint64_t pick_seed() {
  if (const char* s = std::getenv("WEFT_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// In the child: weft works, then it ends as the seed said.
[[noreturn]] void child(bool by_exit) {
  const int code = weft_test::use_weft_in_child(weft_test::ArmedPipe{}, /*with_processes=*/false);
  if (by_exit) std::exit(code);
  ::_exit(code);
}

}  // namespace

TEST_CASE("fork 50 times from fibers and a plain thread while both workers are busy") {
  weft::configure({.threads = 2});
  const std::uint64_t seed = pick_seed();
  std::mt19937_64 rng(seed);
  INFO("seed " << seed << " (replay: WEFT_TEST_SEED=" << seed << ")");

  std::vector<weft::Unfuture<void>> load;
  for (int i = 0; i < 4; ++i) start_ping_pong(load);  // dealt round robin over both workers
  for (int i = 0; i < 2; ++i) {
    load.push_back(weft::spawn([] {
      while (!stop.load()) {
        weft::spawn([] { weft::this_fiber::yield(); }).get();
        spawns.fetch_add(1);
        load_pause.pause_point();
      }
    }));
  }
  load.push_back(weft::spawn([] {
    while (!stop.load()) {
      weft::spawn_blocking([] { ::usleep(100); }).get();
      load_pause.pause_point();
    }
  }));

  for (int i = 0; i < kForks; ++i) {
    const bool from_fiber = rng() % 2 == 0;
    const bool by_exit = rng() % 3 == 0;
    const auto pause = std::chrono::microseconds(rng() % 2000);
    auto fork_and_wait = [&] {
      std::this_thread::sleep_for(pause);  // a fiber sleeps, a thread sleeps
      std::fflush(nullptr);  // or the child's exit() prints the parent's buffered output again
      REQUIRE(load_pause.hold(kPausingFibers));
      const pid_t pid = ::fork();
      load_pause.release();
      if (pid == 0) child(by_exit);
      REQUIRE(pid > 0);
      return weft_test::wait_with_deadline(pid, 20s);
    };
    const auto r = from_fiber ? weft::run(fork_and_wait) : fork_and_wait();
    const std::string how = std::string(from_fiber ? "a fiber" : "a plain thread") +
                            ", child ends by " + (by_exit ? "exit()" : "_exit()");
    INFO("fork " << i << " from " << how << ": child " << weft_test::describe(r)
                 << " (codes: tests/support/weft_after_fork.hpp)");
    REQUIRE(r.finished);
    REQUIRE(r.exit_status == 0);
  }

  // The parent's fibers were not disturbed by 50 children: they still make progress (given
  // seconds, since the machine may be loaded; a parent whose reactor a child broke makes
  // none at all).
  const long trips = round_trips.load();
  const long spawned = spawns.load();
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while ((round_trips.load() == trips || spawns.load() == spawned) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(round_trips.load() > trips);
  CHECK(spawns.load() > spawned);
  stop.store(true);
  for (auto& f : load) f.get();
}
