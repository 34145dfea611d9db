// Cancellation racing the wake-up it would cut short (issue 15, item 7): 10^4 rounds of a
// fiber parked in read() on a pipe while one byte arrives and a cancel (or the fiber's
// Timeout) lands at random moments around it, on two workers, the writer a fiber or a
// plain thread. Whoever wins, nothing is lost: the read returns the byte or fails with
// ECANCELED/ETIMEDOUT with the byte still in the pipe; a cancel is sticky (the next read
// fails); the fiber always ends. The seed is printed first; WEFT_CANCEL_RACE_SEED replays
// it. Bounded at 20 s (times WEFT_TEST_SLACK) of rounds.
#include <weft/weft.hpp>

#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using weft_test::Clock;

namespace {

constexpr int kRounds = 10'000;

unsigned seed_from_env() {
  const char* given = std::getenv("WEFT_CANCEL_RACE_SEED");
  const unsigned seed = given != nullptr ? static_cast<unsigned>(std::strtoul(given, nullptr, 10))
                                         : std::random_device{}();
  std::printf("WEFT_CANCEL_RACE_SEED=%u\n", seed);
  std::fflush(stdout);
  return seed;
}

void spin_for(unsigned iterations) {
  for (unsigned i = 0; i < iterations; ++i) {
    asm volatile("" ::: "memory");  // the loop stays, without a volatile counter (-Wvolatile)
  }
}

struct Outcome {
  long first;
  int first_errno;
  long second;  // after a successful first read: a read that must fail (sticky cancel)
  int second_errno;
};

// The byte left in the pipe once the writer is done: 1 if there, 0 if not.
int byte_left(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  char c;
  const long r = ::read(fd, &c, 1);
  ::fcntl(fd, F_SETFL, flags);
  return r == 1 ? 1 : 0;
}

template <class Round>
void run_rounds(unsigned seed, Round round) {
  std::mt19937 rng(seed);
  const auto give_up = Clock::now() + std::chrono::seconds(20 * WEFT_TEST_SLACK);
  int done = 0;
  for (; done < kRounds && Clock::now() < give_up; ++done) {
    CAPTURE(seed);
    CAPTURE(done);
    round(rng);
  }
  MESSAGE(done << " rounds");
  CHECK(done >= kRounds / 10);  // a stuck round would have failed already; too few means trouble
}

}  // namespace

TEST_CASE("cancel racing a byte's arrival: the byte is read or stays in the pipe, and the cancel sticks") {
  weft::configure({.threads = 2});
  const unsigned seed = seed_from_env();
  int by_byte = 0, by_cancel = 0;
  run_rounds(seed, [&](std::mt19937& rng) {
    int fd[2];
    REQUIRE(::pipe(fd) == 0);
    auto victim = weft::spawn([&] {
      Outcome o{};
      char c;
      errno = 0;
      o.first = ::read(fd[0], &c, 1);
      o.first_errno = errno;
      if (o.first == 1) {
        errno = 0;
        o.second = ::read(fd[0], &c, 1);  // nothing more comes: only the cancel ends it
        o.second_errno = errno;
      }
      return o;
    });
    const unsigned write_delay = rng() % 4000, cancel_delay = rng() % 4000;
    const bool writer_is_thread = rng() % 4 == 0;
    auto write_one = [&] {
      spin_for(write_delay);
      REQUIRE(::write(fd[1], "x", 1) == 1);
    };
    std::thread writer_thread;
    weft::Unfuture<void> writer_fiber;
    if (writer_is_thread) {
      writer_thread = std::thread(write_one);
    } else {
      writer_fiber = weft::spawn(write_one);
    }
    spin_for(cancel_delay);
    (void)victim.cancel();  // false only if it ended already, which it cannot before this
    REQUIRE_MESSAGE(victim.wait_for(5s), "the victim never ended");
    if (writer_is_thread) {
      writer_thread.join();
    } else {
      writer_fiber.get();
    }
    Outcome o{};
    try {
      o = victim.get();
    } catch (const weft::cancelled_error&) {
      // Cancelled before it started: it never read, as if its first read had failed.
      o = Outcome{-1, ECANCELED, 0, 0};
    }
    const int left = byte_left(fd[0]);
    ::close(fd[0]);
    ::close(fd[1]);
    if (o.first == 1) {
      ++by_byte;
      CHECK(left == 0);
      CHECK(o.second == -1);
      CHECK(o.second_errno == ECANCELED);
    } else {
      ++by_cancel;
      CHECK(o.first == -1);
      CHECK(o.first_errno == ECANCELED);
      CHECK(left == 1);  // not lost
    }
  });
  MESSAGE(by_byte << " rounds won by the byte, " << by_cancel << " by the cancel");
  CHECK(by_cancel > 0);
}

TEST_CASE("a Timeout racing a byte's arrival: the byte is read or stays in the pipe") {
  const unsigned seed = seed_from_env();
  int by_byte = 0, by_timeout = 0;
  run_rounds(seed, [&](std::mt19937& rng) {
    int fd[2];
    REQUIRE(::pipe(fd) == 0);
    const auto timeout = std::chrono::microseconds(rng() % 300);
    auto victim = weft::spawn([&, timeout] {
      weft::Timeout t(timeout);
      char c;
      errno = 0;
      const long r = ::read(fd[0], &c, 1);
      return r == 1 ? 0 : errno;
    });
    const unsigned write_delay = rng() % 20000;
    auto writer = weft::spawn([&] {
      spin_for(write_delay);
      REQUIRE(::write(fd[1], "x", 1) == 1);
    });
    REQUIRE_MESSAGE(victim.wait_for(5s), "the victim never ended");
    writer.get();
    const int err = victim.get();
    const int left = byte_left(fd[0]);
    ::close(fd[0]);
    ::close(fd[1]);
    if (err == 0) {
      ++by_byte;
      CHECK(left == 0);
    } else {
      ++by_timeout;
      CHECK(err == ETIMEDOUT);
      CHECK(left == 1);
    }
  });
  MESSAGE(by_byte << " rounds won by the byte, " << by_timeout << " by the Timeout");
  CHECK(by_timeout > 0);
}
