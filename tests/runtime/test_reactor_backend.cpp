// The reactor backend contract (runtime/reactor_backend.hpp), tested directly on one
// backend instance: wake-ups from other threads end a poll, deadlines are kept (not early,
// not more than a few ms late), armed fds report readiness with their token, edge-
// triggered, and disarm stops events.
#include "reactor_backend.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft::rt::ReactorBackend;
using weft::rt::ReadyEvent;

namespace {

constexpr std::int64_t kMs = 1'000'000;
// How much later than a plain sleep a deadline poll may return, at the median.
constexpr std::int64_t kMedianOverSleepNs = kMs * WEFT_TEST_SLACK / 2;

struct Reactor {
  ReactorBackend r;
  Reactor() { REQUIRE(weft::rt::reactor_open(r) == 0); }
  ~Reactor() { weft::rt::reactor_close(r); }
  int poll(std::int64_t deadline_ns, ReadyEvent* out = nullptr, int cap = 0) {
    ReadyEvent scratch[64];
    if (out == nullptr) {
      out = scratch;
      cap = 64;
    }
    return weft::rt::reactor_poll(r, deadline_ns, out, cap);
  }
};

struct Pipe {
  int rd = -1, wr = -1;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    rd = fds[0];
    wr = fds[1];
  }
  ~Pipe() {
    if (rd >= 0) ::close(rd);
    if (wr >= 0) ::close(wr);
  }
  void put(const char* s = "x") const { REQUIRE(::write(wr, s, 1) == 1); }
  void drain() const {
    char buf[256];
    while (::read(rd, buf, sizeof buf) > 0) {
    }
  }
};

std::int64_t now_ns() { return weft::rt::monotonic_ns(); }

}  // namespace

TEST_CASE("monotonic_ns reads the clock steady_clock reads") {
  const auto a = std::chrono::steady_clock::now().time_since_epoch();
  const std::int64_t m = now_ns();
  const auto b = std::chrono::steady_clock::now().time_since_epoch();
  CHECK(m >= std::chrono::duration_cast<std::chrono::nanoseconds>(a).count());
  CHECK(m <= std::chrono::duration_cast<std::chrono::nanoseconds>(b).count());
}

TEST_CASE("open, close, open again") {
  ReactorBackend r;
  REQUIRE(weft::rt::reactor_open(r) == 0);
  CHECK(r.poll_fd >= 0);
  CHECK(r.wake_fd >= 0);
  weft::rt::reactor_close(r);
  CHECK(r.poll_fd == -1);
  REQUIRE(weft::rt::reactor_open(r) == 0);
  ReadyEvent ev[4];
  CHECK(weft::rt::reactor_poll(r, 0, ev, 4) == 0);
  weft::rt::reactor_close(r);
}

TEST_CASE("a wake from another thread ends a poll with no deadline") {
  Reactor re;
  const std::int64_t start = now_ns();
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    weft::rt::reactor_wake(re.r);
  });
  const int n = re.poll(-1);  // would block forever without the wake
  const std::int64_t took = now_ns() - start;
  waker.join();
  CHECK(n == 0);  // wake-ups are consumed, never reported
  CHECK(took >= 45 * kMs);
  CHECK(took < 5000 * kMs);
}

TEST_CASE("a wake before the poll makes the next poll return at once, once") {
  Reactor re;
  weft::rt::reactor_wake(re.r);
  weft::rt::reactor_wake(re.r);
  weft::rt::reactor_wake(re.r);  // redundant wakes coalesce
  std::int64_t start = now_ns();
  CHECK(re.poll(-1) == 0);
  CHECK(now_ns() - start < 1000 * kMs);
  // Consumed: the next poll waits for its deadline.
  start = now_ns();
  const std::int64_t deadline = start + 30 * kMs;
  CHECK(re.poll(deadline) == 0);
  CHECK(now_ns() >= deadline);
}

TEST_CASE("a wake ends a poll with a far deadline early") {
  Reactor re;
  std::thread waker([&] {
    std::this_thread::sleep_for(30ms);
    weft::rt::reactor_wake(re.r);
  });
  const std::int64_t start = now_ns();
  CHECK(re.poll(start + 10'000 * kMs) == 0);
  CHECK(now_ns() - start < 5000 * kMs);
  waker.join();
}

TEST_CASE("a deadline poll returns at the deadline: not early, not later than a plain sleep") {
  // The reference: std::this_thread::sleep_until to the same kind of deadline, in turn with
  // the polls, so both see the same machine load. Medians, so one preemption of either
  // does not decide.
  Reactor re;
  std::vector<std::int64_t> poll_late, sleep_late;
  for (int i = 0; i < 30; ++i) {
    const std::int64_t span = (2 + i % 5) * kMs + 123'456;  // not whole ms
    std::int64_t deadline = now_ns() + span;
    CHECK(re.poll(deadline) == 0);
    poll_late.push_back(now_ns() - deadline);
    deadline = now_ns() + span;
    std::this_thread::sleep_until(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline)));
    sleep_late.push_back(now_ns() - deadline);
  }
  CHECK(*std::min_element(poll_late.begin(), poll_late.end()) >= 0);
  std::sort(poll_late.begin(), poll_late.end());
  std::sort(sleep_late.begin(), sleep_late.end());
  const std::int64_t poll_median = poll_late[poll_late.size() / 2];
  const std::int64_t sleep_median = sleep_late[sleep_late.size() / 2];
  MESSAGE("deadline poll lateness: median " << static_cast<double>(poll_median) / kMs << " ms, worst "
                                            << static_cast<double>(poll_late.back()) / kMs
                                            << " ms; plain sleep: median " << static_cast<double>(sleep_median) / kMs
                                            << " ms, worst " << static_cast<double>(sleep_late.back()) / kMs << " ms");
  CHECK(poll_median <= sleep_median + kMedianOverSleepNs);
}

TEST_CASE("deadline 0 and deadlines in the past do not wait") {
  Reactor re;
  std::int64_t start = now_ns();
  CHECK(re.poll(0) == 0);
  CHECK(re.poll(start - 1000 * kMs) == 0);
  CHECK(now_ns() - start < 100 * kMs);
}

TEST_CASE("an armed pipe reports readable with its token after a write; edge-triggered") {
  Reactor re;
  Pipe p;
  const std::uint64_t token = 0x1234'0000'0007;  // any 64 bits: a generation and an fd
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, token) == 0);
  ReadyEvent ev[8];
  CHECK(re.poll(0, ev, 8) == 0);  // nothing to read yet

  p.put();
  const int n = re.poll(now_ns() + 1000 * kMs, ev, 8);
  REQUIRE(n == 1);
  CHECK(ev[0].token == token);
  CHECK(ev[0].readable);
  CHECK_FALSE(ev[0].error);

  // Edge-triggered: no new data, no new event, though the byte is still unread.
  const std::int64_t deadline = now_ns() + 20 * kMs;
  CHECK(re.poll(deadline, ev, 8) == 0);
  CHECK(now_ns() >= deadline);

  // New data is a new edge.
  p.put();
  REQUIRE(re.poll(now_ns() + 1000 * kMs, ev, 8) == 1);
  CHECK(ev[0].token == token);
  p.drain();
}

TEST_CASE("a write from another thread ends a poll with no deadline") {
  Reactor re;
  Pipe p;
  const std::uint64_t t = 42;
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, t) == 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(30ms);
    p.put();
  });
  ReadyEvent ev[4];
  const int n = re.poll(-1, ev, 4);
  writer.join();
  REQUIRE(n == 1);
  CHECK(ev[0].token == t);
  CHECK(ev[0].readable);
}

TEST_CASE("a pipe's write end reports writable; the reader's hang-up wakes it") {
  Reactor re;
  Pipe p;
  const std::uint64_t t = 42;
  REQUIRE(weft::rt::reactor_arm(re.r, p.wr, t) == 0);
  ReadyEvent ev[4];
  REQUIRE(re.poll(now_ns() + 1000 * kMs, ev, 4) == 1);
  CHECK(ev[0].token == t);
  CHECK(ev[0].writable);
  ::close(p.rd);
  p.rd = -1;
  REQUIRE(re.poll(now_ns() + 1000 * kMs, ev, 4) == 1);
  CHECK(ev[0].token == t);
  CHECK(ev[0].error);
}

TEST_CASE("the writer's hang-up wakes the reader (readable or error)") {
  Reactor re;
  Pipe p;
  const std::uint64_t t = 42;
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, t) == 0);
  ::close(p.wr);
  p.wr = -1;
  ReadyEvent ev[4];
  REQUIRE(re.poll(now_ns() + 1000 * kMs, ev, 4) == 1);
  CHECK(ev[0].token == t);
  CHECK((ev[0].readable || ev[0].error));
}

TEST_CASE("disarm stops events") {
  Reactor re;
  Pipe p;
  const std::uint64_t t = 42;
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, t) == 0);
  REQUIRE(weft::rt::reactor_disarm(re.r, p.rd) == 0);
  p.put();
  const std::int64_t deadline = now_ns() + 30 * kMs;
  CHECK(re.poll(deadline) == 0);
  CHECK(now_ns() >= deadline);
  // Armed again (as for a reused fd number), events flow with the new token.
  const std::uint64_t t2 = 43;
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, t2) == 0);
  ReadyEvent ev[4];
  const int n = re.poll(now_ns() + 1000 * kMs, ev, 4);
  REQUIRE(n == 1);
  CHECK(ev[0].token == t2);
}

TEST_CASE("a regular file cannot be armed: -EPERM") {
  char path[] = "/tmp/weft-reactor-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  Reactor re;
  CHECK(weft::rt::reactor_arm(re.r, fd, 1) == -EPERM);
  ::close(fd);
}

TEST_CASE("disarming an fd that was never armed is an error, not a crash") {
  Reactor re;
  Pipe p;
  CHECK(weft::rt::reactor_disarm(re.r, p.rd) < 0);
}

TEST_CASE("poll fills at most cap events; the rest come with the next poll") {
  Reactor re;
  std::vector<Pipe> pipes(10);
  std::vector<std::uint64_t> tokens(10);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = 1000 + i;
  for (std::size_t i = 0; i < pipes.size(); ++i) REQUIRE(weft::rt::reactor_arm(re.r, pipes[i].rd, tokens[i]) == 0);
  for (auto& p : pipes) p.put();
  std::set<std::uint64_t> seen;
  ReadyEvent ev[3];
  const int first = re.poll(now_ns() + 1000 * kMs, ev, 3);
  CHECK(first == 3);
  for (int i = 0; i < first; ++i) seen.insert(ev[i].token);
  for (int round = 0; round < 10 && seen.size() < 10; ++round) {
    const int n = re.poll(now_ns() + 100 * kMs, ev, 3);
    CHECK(n <= 3);
    for (int i = 0; i < n; ++i) seen.insert(ev[i].token);
  }
  CHECK(seen.size() == 10);
  for (auto& t : tokens) CHECK(seen.count(t) == 1);
}

TEST_CASE("wakes and events together: the event is reported, the wake consumed") {
  Reactor re;
  Pipe p;
  const std::uint64_t t = 42;
  REQUIRE(weft::rt::reactor_arm(re.r, p.rd, t) == 0);
  p.put();
  weft::rt::reactor_wake(re.r);
  ReadyEvent ev[4];
  int total = 0;
  for (int round = 0; round < 2; ++round) {
    const int n = re.poll(now_ns() + 100 * kMs, ev, 4);
    REQUIRE(n >= 0);
    for (int i = 0; i < n; ++i) CHECK(ev[i].token == t);
    total += n;
    if (total == 1) break;
  }
  CHECK(total == 1);
  // Nothing left: the next poll runs to its deadline.
  const std::int64_t deadline = now_ns() + 20 * kMs;
  CHECK(re.poll(deadline) == 0);
  CHECK(now_ns() >= deadline);
}

TEST_CASE("wake and poll(-1) in ping-pong with another thread: no wake is lost") {
  // Each round asks the other thread for a wake, at a random moment before, during or
  // after the poll starts; poll(-1) must return every time (a lost wake would block it
  // forever, and CTest's timeout fails the test).
  Reactor re;
  constexpr int kRounds = 300;
  std::atomic<int> requested{0};
  std::thread waker([&] {
    std::mt19937 rng(7);
    for (int i = 1; i <= kRounds; ++i) {
      while (requested.load() < i) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
      weft::rt::reactor_wake(re.r);
    }
  });
  int returned = 0;
  for (int i = 1; i <= kRounds; ++i) {
    requested.store(i);
    if (re.poll(-1) == 0) ++returned;
  }
  waker.join();
  CHECK(returned == kRounds);
}
