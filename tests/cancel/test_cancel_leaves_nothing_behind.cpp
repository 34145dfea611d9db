// After cancelling fibers in every kind of wait, nothing is left behind (issue 15, item 7):
// every cancelled fiber ends (list_fibers() is back to what it was), and every descriptor
// the victims made is closed (/proc/self/fd is back to what it was), whether the victim
// closes its own fds after -1/ECANCELED as a C client does, or weft::net's destructors close
// them as the exception unwinds, or a cancelled weft::net connect gives its half-made
// socket back. Rounds of 120 victims of seeded random kinds on two workers, cancelled from
// plain threads and from fibers, some before they start, some by a Timeout instead.
// The seed is printed first; WEFT_CANCEL_LEAK_SEED replays it.
#include <weft/weft.hpp>
#include <weft/net.hpp>

#include "support/fd_count.hpp"
#include "support/stress_seed.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft_test::Clock;

namespace {

constexpr int kVictimsPerRound = 120;
constexpr int kRounds = 6;

// A listener that never accepts, with the shortest queue: once it is full, further
// connects hang in SYN_SENT, so a victim can be cancelled inside connect().
struct FullListener {
  weft::net::TcpListener listener =
      weft::net::TcpListener::bind(weft::net::SocketAddress("127.0.0.1", 0), {.backlog = 1});
  std::vector<weft::net::TcpStream> fillers;

  FullListener() {
    // Two completed connections fill a backlog of 1 (the kernel takes backlog + 1).
    for (int i = 0; i < 2; ++i) fillers.push_back(weft::net::TcpStream::connect(listener.local_address()));
  }
};

enum class Victim { raw_socketpair_read, net_stream_read, net_connect_to_full_listener, sleep, channel, group_join, count };

// One victim: waits in its kind of wait until cancelled, then returns what it saw. Each
// makes its descriptors itself, so a leak shows in the count.
std::string run_victim(Victim kind, const weft::net::SocketAddress& full) {
  switch (kind) {
    case Victim::raw_socketpair_read: {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return "socketpair failed";
      char c;
      const long r = ::read(sv[0], &c, 1);
      const int err = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      return r == -1 && (err == ECANCELED || err == ETIMEDOUT) ? "stopped" : "read gave " + std::to_string(r);
    }
    case Victim::net_stream_read: {
      auto [mine, theirs] = weft::net::UnixStream::pair();
      char c;
      (void)mine.read(&c, 1);
      return "read returned";
    }
    case Victim::net_connect_to_full_listener: {
      auto s = weft::net::TcpStream::connect(full);
      // The SYN may still have been answered (the queue drained in between): then wait.
      char c;
      (void)s.read(&c, 1);
      return "read returned";
    }
    case Victim::sleep:
      weft::sleep_for(30s);
      return "slept 30 s";
    case Victim::channel: {
      weft::Channel<int> never(0);
      (void)never.receive();
      return "received";
    }
    case Victim::group_join: {
      weft::Group g;
      for (int i = 0; i < 3; ++i) {
        g.spawn([] {
          auto [mine, theirs] = weft::net::UnixStream::pair();
          char c;
          (void)mine.read(&c, 1);
        });
      }
      g.join();
      return "joined";
    }
    case Victim::count: break;
  }
  return "?";
}

// What a victim saw, counting a cancelled_error or timeout_error as "stopped".
std::string outcome_of(weft::Unfuture<std::string>& v) {
  try {
    return v.get();
  } catch (const weft::cancelled_error&) {
    return "stopped";
  } catch (const weft::timeout_error&) {
    return "stopped";
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
}

// One round: spawns the victims, stops them all, and checks each ended as stopped.
void run_round(std::mt19937_64& rng, const weft::net::SocketAddress& full, const weft_test::StressSeed& seed) {
  std::vector<weft::Unfuture<std::string>> victims;
  std::vector<Victim> kinds;
  std::vector<bool> by_timeout;
  for (int i = 0; i < kVictimsPerRound; ++i) {
    const auto kind = static_cast<Victim>(rng() % static_cast<unsigned>(Victim::count));
    const bool timeout = rng() % 5 == 0;
    const auto timeout_after = std::chrono::microseconds(rng() % 5000);
    kinds.push_back(kind);
    by_timeout.push_back(timeout);
    victims.push_back(weft::spawn([kind, timeout, timeout_after, &full] {
      if (!timeout) return run_victim(kind, full);
      weft::Timeout t(timeout_after);
      return run_victim(kind, full);
    }));
  }
  // Half the cancels from a plain thread, half from a fiber; a few at once (the victim may
  // not have started), the rest once the victims have had time to park.
  std::vector<std::size_t> early, late;
  for (std::size_t i = 0; i < victims.size(); ++i) {
    if (by_timeout[i]) continue;
    (rng() % 4 == 0 ? early : late).push_back(i);
  }
  auto cancel_half = [&](const std::vector<std::size_t>& which) {
    std::thread plain([&] {
      for (std::size_t k = 0; k < which.size(); k += 2) victims[which[k]].cancel();
    });
    weft::spawn([&] {
      for (std::size_t k = 1; k < which.size(); k += 2) victims[which[k]].cancel();
    }).get();
    plain.join();
  };
  cancel_half(early);
  std::this_thread::sleep_for(20ms);
  cancel_half(late);
  for (std::size_t i = 0; i < victims.size(); ++i) {
    CAPTURE(static_cast<int>(kinds[i]));
    CAPTURE(by_timeout[i]);
    REQUIRE_MESSAGE(victims[i].wait_for(10s), seed.replay("a stopped victim did not end in 10 s"));
    CHECK_MESSAGE(outcome_of(victims[i]) == "stopped", seed.replay("a victim was not stopped"));
  }
}

// Polls `now()` until it equals `want` or 3 s pass (a fiber's record goes when its stack
// is recycled, a moment after its Unfuture is ready); returns the last value.
template <class Now>
long settles_to(long want, Now now) {
  const auto give_up = Clock::now() + 3s;
  long seen = now();
  while (seen != want && Clock::now() < give_up) {
    std::this_thread::sleep_for(5ms);
    seen = now();
  }
  return seen;
}

}  // namespace

TEST_CASE("cancelled fibers leave no fiber and no descriptor behind") {
  weft::configure({.threads = 2});
  const weft_test::StressSeed seed("WEFT_CANCEL_LEAK_SEED");
  std::mt19937_64 rng(seed.base());
  FullListener full;
  const auto full_address = full.listener.local_address();

  // A warm-up round makes what the runtime keeps for good (reactor, pool threads, stacks).
  run_round(rng, full_address, seed);
  const long fibers_before = settles_to(0, [] { return static_cast<long>(weft::list_fibers().size()); });
  const long fds_before = weft_test::open_fds();
  REQUIRE(fds_before > 0);

  for (int round = 0; round < kRounds; ++round) run_round(rng, full_address, seed);

  CHECK_MESSAGE(settles_to(fibers_before, [] { return static_cast<long>(weft::list_fibers().size()); }) ==
                    fibers_before,
                seed.replay("fibers left behind"));
  CHECK_MESSAGE(settles_to(fds_before, [] { return weft_test::open_fds(); }) == fds_before,
                seed.replay("descriptors left behind"));
}
