// close() on an fd while a fiber on another worker is just entering read() on it: the
// reader must end (EBADF, or data read before the close), never park for ever. Found by
// weft_stress (fd_close_race): the close shim retired the fd (waking its waiters) and only
// then closed it, so a read that began in between got EAGAIN from the still-open pipe,
// parked with the new generation and armed the fd in its reactor; the real close then
// dropped that watch silently (closing a file removes it from every epoll set) and no
// wake-up ever came.
//
// The window is a few microseconds wide, so this repeats the race with many pairs at once
// until a time budget runs out; a seed makes the yields before each close replayable.
#include "support/racy_fd.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct ThreeWorkers {
  ThreeWorkers() {
    weft::configure({.threads = 3});
    std::signal(SIGPIPE, SIG_IGN);  // the writer may outlive the read end
  }
} const three_workers;

struct Outcome {
  bool ended = false;
  int err = 0;
};

// One race on a pipe: a reader reading byte after byte until an error, a writer feeding
// it, a closer closing the read end after `yields` switches. Returns what the reader saw,
// or that it had not ended within the bound.
Outcome race_once(std::array<int, 2> fds, unsigned yields) {
  auto reader = weft::spawn([rd = fds[0]] {
    char c;
    for (;;) {
      const ssize_t n = ::read(rd, &c, 1);
      if (n < 0) return errno;
      if (n == 0) return 0;
    }
  });
  auto writer = weft::spawn([wr = fds[1], yields] {
    for (unsigned i = 0; i < yields; ++i) {
      if (::write(wr, "x", 1) != 1) return;
      weft::this_fiber::yield();
    }
  });
  auto closer = weft::spawn([rd = fds[0], yields] {
    for (unsigned i = 0; i < yields; ++i) weft::this_fiber::yield();
    weft_test::racing_close(rd);
  });
  closer.get();
  writer.get();
  Outcome out;
  out.ended = reader.wait_for(2s * WEFT_TEST_SLACK);
  if (out.ended) out.err = reader.get();
  return out;
}

}  // namespace

TEST_CASE("a read entered while another worker closes the fd always ends") {
  const char* env = std::getenv("WEFT_TEST_SEED");
  const std::uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  MESSAGE("seed " << seed << " (replay: WEFT_TEST_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  const auto end = std::chrono::steady_clock::now() + 3s;
  int rounds = 0;
  while (std::chrono::steady_clock::now() < end) {
    // Many races at once, spread over the workers by the plain thread that spawns them.
    constexpr int kPairs = 16;
    // Every pipe of the round exists before any close: a number closed in one race is
    // not reused by another's pipe() meanwhile, so a read after the close must see EBADF
    // (on a reused number it would act on the new file, as with libc).
    std::vector<std::array<int, 2>> pipes(kPairs);
    for (auto& p : pipes) REQUIRE(::pipe(p.data()) == 0);
    std::vector<weft::Unfuture<Outcome>> races;
    for (int i = 0; i < kPairs; ++i) {
      races.push_back(weft::spawn(race_once, pipes[i], static_cast<unsigned>(rng() % 8)));
    }
    for (auto& r : races) {
      const Outcome out = r.get();
      INFO("round " << rounds << ", seed " << seed);
      REQUIRE(out.ended);
      // The reader stops at the close: EBADF (closed under it or before it began).
      CHECK(out.err == EBADF);
    }
    for (auto& p : pipes) ::close(p[1]);
    ++rounds;
  }
  MESSAGE("rounds of 16 races: " << rounds);
}
