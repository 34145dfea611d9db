// Unfuture::cancel() of a fiber parked in each kind of wait (issue 15): the wait ends at
// once, a hooked libc call returns -1/ECANCELED, weft's own calls throw cancelled_error,
// and cancel() returns true. Each wait is tried with three cancellers: a plain thread, a
// fiber on the same worker and a fiber on another worker (two workers). Without the
// cancellation in park(), every case below waits for ever (the victim's Unfuture never
// becomes ready: the check fails after 5 s).
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/pipe.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <poll.h>
#include <string>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using weft_test::Clock;
using weft_test::Pipe;
using weft_test::ms;

namespace {

constexpr auto kLong = 30s;  // what every victim would wait without the cancel

// Waits until the fiber named `name` is parked; false after 5 s.
bool wait_until_parked(const std::string& name) {
  const auto give_up = Clock::now() + 5s;
  while (Clock::now() < give_up) {
    for (const weft::FiberInfo& f : weft::list_fibers()) {
      if (f.name == name && f.state == weft::FiberState::parked) return true;
    }
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

enum class Canceller { plain_thread, fiber_same_worker, fiber_other_worker };

const char* to_string(Canceller c) {
  switch (c) {
    case Canceller::plain_thread: return "plain thread";
    case Canceller::fiber_same_worker: return "fiber on the victim's worker";
    case Canceller::fiber_other_worker: return "fiber on another worker";
  }
  return "?";
}

// Runs victim() (which returns what it saw, as a string) as a parked fiber, cancels it
// from `who`, and returns what it saw. The victim must end within 5 s of the cancel.
std::string cancel_parked(const std::function<std::string()>& victim, Canceller who) {
  static std::atomic<int> serial{0};
  const std::string name = "victim-" + std::to_string(serial.fetch_add(1));
  // A host fiber spawns the victim, so both start on the host's worker (a spawn from a
  // fiber stays on its worker unless stolen before it starts; the victim parks at once).
  auto host = weft::spawn([&] {
    auto v = weft::spawn(weft::FiberOptions{name}, victim);
    REQUIRE(wait_until_parked(name));
    bool cancelled = false;
    switch (who) {
      case Canceller::plain_thread:
        std::thread([&] { cancelled = v.cancel(); }).join();
        break;
      case Canceller::fiber_same_worker:
        cancelled = v.cancel();
        break;
      case Canceller::fiber_other_worker: {
        // Spawned from a plain thread, it lands on some worker; retry until not ours.
        const auto mine = std::this_thread::get_id();
        for (int tries = 0;; ++tries) {
          REQUIRE(tries < 1000);
          auto other = std::async(std::launch::async, [&] {
            return weft::spawn([&] {
                     if (std::this_thread::get_id() == mine) return false;
                     cancelled = v.cancel();
                     return true;
                   }).get();
          });
          if (other.get()) break;
        }
        break;
      }
    }
    CHECK_MESSAGE(cancelled, "cancel() of a parked fiber returned false (" << to_string(who) << ")");
    REQUIRE_MESSAGE(v.wait_for(5s), "the cancelled fiber is still parked 5 s later (" << to_string(who) << ")");
    return v.get();
  });
  return host.get();
}

// The canceller kinds, each a doctest subcase.
template <class Victim>
void for_each_canceller(const Victim& victim, const std::string& expected) {
  for (Canceller who : {Canceller::plain_thread, Canceller::fiber_same_worker, Canceller::fiber_other_worker}) {
    CAPTURE(to_string(who));
    const auto start = Clock::now();
    CHECK(cancel_parked(victim, who) == expected);
    CHECK(Clock::now() - start < 5s);
  }
}

std::string errno_after(long r) {
  if (r != -1) return "returned " + std::to_string(r);
  return errno == ECANCELED ? "ECANCELED" : "errno " + std::to_string(errno);
}

template <class F>
std::string what_is_thrown(F f) {
  try {
    f();
    return "nothing thrown";
  } catch (const weft::cancelled_error&) {
    return "cancelled_error";
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
}

}  // namespace

TEST_CASE("a fiber parked in a hooked read gets -1/ECANCELED") {
  weft::configure({.threads = 2});
  Pipe p;
  for_each_canceller([&] {
    char c;
    return errno_after(::read(p.in(), &c, 1));
  }, "ECANCELED");
}

TEST_CASE("a fiber in a hooked sleep gets -1/ECANCELED") {
  for_each_canceller([] { return errno_after(::usleep(30'000'000)); }, "ECANCELED");
  for_each_canceller([] {
    timespec req{30, 0}, rem{};
    const int r = ::nanosleep(&req, &rem);
    const std::string seen = errno_after(r);
    // The time left is reported, as after a signal on a thread.
    return rem.tv_sec >= 25 ? seen : seen + ", rem " + std::to_string(rem.tv_sec) + " s";
  }, "ECANCELED");
}

TEST_CASE("a fiber in poll over many fds gets -1/ECANCELED") {
  Pipe a, b, c;
  for_each_canceller([&] {
    pollfd fds[3] = {{a.in(), POLLIN, 0}, {b.in(), POLLIN, 0}, {c.in(), POLLIN, 0}};
    return errno_after(::poll(fds, 3, -1));
  }, "ECANCELED");
}

TEST_CASE("weft's own waits throw cancelled_error") {
  SUBCASE("sleep_for") {
    for_each_canceller([] { return what_is_thrown([] { weft::sleep_for(kLong); }); }, "cancelled_error");
  }
  SUBCASE("Unfuture::get") {
    weft::Promise<int> never;
    auto f = never.get_unfuture();
    for_each_canceller([&] { return what_is_thrown([&] { (void)f.get(); }); }, "cancelled_error");
  }
  SUBCASE("spawn_blocking's result") {
    // Shared with the pool calls the victims abandon: they run on after this scope.
    auto release = std::make_shared<std::atomic<bool>>(false);
    for_each_canceller([release] {
      return what_is_thrown([release] {
        weft::spawn_blocking([release] {
          while (!release->load()) std::this_thread::sleep_for(1ms);
        }).get();
      });
    }, "cancelled_error");
    release->store(true);
  }
  SUBCASE("Mutex::lock") {
    weft::Mutex m;
    std::unique_lock held(m);
    for_each_canceller([&] { return what_is_thrown([&] { std::lock_guard g(m); }); }, "cancelled_error");
  }
  SUBCASE("Channel receive") {
    weft::Channel<int> ch(1);
    for_each_canceller([&] { return what_is_thrown([&] { (void)ch.receive(); }); }, "cancelled_error");
  }
  SUBCASE("Event::wait") {
    weft::Event e;
    for_each_canceller([&] { return what_is_thrown([&] { e.wait(); }); }, "cancelled_error");
  }
  SUBCASE("Semaphore::acquire") {
    weft::Semaphore none(0);
    for_each_canceller([&] { return what_is_thrown([&] { none.acquire(); }); }, "cancelled_error");
  }
  SUBCASE("WaitGroup::wait") {
    weft::WaitGroup one_left;
    one_left.add(1);
    for_each_canceller([&] { return what_is_thrown([&] { one_left.wait(); }); }, "cancelled_error");
    one_left.done();
  }
  SUBCASE("Latch::wait") {
    weft::Latch one_left(1);
    for_each_canceller([&] { return what_is_thrown([&] { one_left.wait(); }); }, "cancelled_error");
  }
  SUBCASE("select over two channels") {
    weft::Channel<int> a(0), b(1);
    for_each_canceller([&] {
      return what_is_thrown([&] { (void)weft::select(weft::receive_case(a), weft::send_case(a, 1), weft::receive_case(b)); });
    }, "cancelled_error");
  }
  SUBCASE("Channel send to a full channel") {
    weft::Channel<int> full(1);
    full.send(0);
    for_each_canceller([&] { return what_is_thrown([&] { full.send(1); }); }, "cancelled_error");
  }
  SUBCASE("weft::net stream read and listener accept") {
    auto [mine, theirs] = weft::net::UnixStream::pair();
    for_each_canceller([&] {
      return what_is_thrown([&] {
        char c;
        (void)mine.read(&c, 1);
      });
    }, "cancelled_error");
    auto listener = weft::net::TcpListener::bind(weft::net::SocketAddress("127.0.0.1", 0));
    for_each_canceller([&] { return what_is_thrown([&] { (void)listener.accept(); }); }, "cancelled_error");
  }
}

TEST_CASE("a cancelled ConditionVariable wait relocks its mutex before it throws") {
  // The canceller holds the mutex while it cancels and for 100 ms after: the victim's
  // relock must wait for it (under a Shield: an unshielded relock would be cancelled too
  // and throw with the mutex not held), and own the mutex when the exception arrives.
  weft::Mutex m;
  weft::ConditionVariable cv;
  std::atomic<bool> canceller_released{false};
  auto v = weft::spawn(weft::FiberOptions{"cv-victim"}, [&] {
    std::unique_lock lk(m);
    std::string seen = what_is_thrown([&] { cv.wait(lk); });
    if (!lk.owns_lock()) return seen + ", lock not owned";
    if (!canceller_released.load()) return seen + ", relocked while the canceller held the mutex";
    // m.try_lock() from another fiber tells an unlocked mutex from a held one (waited
    // for under a Shield: this fiber stays cancelled).
    weft::Shield still_cancelled;
    const bool free_for_others = weft::spawn([&] {
                                   if (!m.try_lock()) return false;
                                   m.unlock();
                                   return true;
                                 }).get();
    return free_for_others ? seen + ", but the mutex is free" : seen;
  });
  REQUIRE(wait_until_parked("cv-victim"));
  {
    std::lock_guard held(m);
    CHECK(v.cancel());
    weft::sleep_for(100ms);
    canceller_released = true;
  }
  REQUIRE(v.wait_for(5s));
  CHECK(v.get() == "cancelled_error");
}
