// The two places a weft::net test runs the same calls in: a fiber, where a socket wait
// parks the fiber on the reactor, and a plain thread, where it blocks in poll. A behaviour
// holds only if it holds in both, so most tests loop over Where and run their body with
// on(); the other party of a connection is a Peer in either place. Also the timing
// allowance and the small socket helpers these tests share.
#pragma once

#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/stall_watch.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace weft_test {

enum class Where { fiber, thread };

inline std::string where_name(Where w) { return w == Where::fiber ? "fiber" : "plain thread"; }

// f() in a fiber (waited for), or right here on the test's plain thread.
template <class F>
void on(Where where, F f) {
  if (where == Where::fiber) {
    weft::run(std::move(f));
  } else {
    REQUIRE_FALSE(weft::in_fiber());
    f();
  }
}

// Some other party: a fiber, or a plain thread whose exception join() rethrows. Joining a
// thread from a fiber waits on the blocking pool, so the worker keeps running fibers.
class Peer {
 public:
  template <class F>
  Peer(Where where, F f) {
    if (where == Where::fiber) {
      fiber_ = weft::spawn(std::move(f));
    } else {
      thread_ = std::thread([f = std::move(f), error = error_]() mutable {
        try {
          f();
        } catch (...) {
          *error = std::current_exception();
        }
      });
    }
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() {
    if (thread_.joinable()) thread_.join();
  }
  void join() {
    if (fiber_.valid()) {
      fiber_.get();
      return;
    }
    if (weft::in_fiber()) {
      weft::spawn_blocking([this] { thread_.join(); }).get();
    } else {
      thread_.join();
    }
    if (*error_) std::rethrow_exception(*error_);
  }

 private:
  weft::Unfuture<void> fiber_;
  std::shared_ptr<std::exception_ptr> error_ = std::make_shared<std::exception_ptr>();
  std::thread thread_;
};

// How late a timed call may return beyond its reference (a weft::sleep_for of the same
// length, or the planned time of the event that should end it).
inline constexpr auto kLate = std::chrono::milliseconds(50 * WEFT_TEST_SLACK);

// One watch per test program, started at its first use, so that programs with no timing
// checks run no extra thread.
inline StallWatch& stall_watch() {
  static StallWatch watch;
  return watch;
}

// The allowance for lateness: `tolerance`, plus the worst stall of the machine since the
// last stall_watch().reset().
inline Clock::duration late_ok(Clock::duration tolerance = kLate) { return tolerance + stall_watch().worst(); }

// A connected pair over 127.0.0.1: {client, server}.
inline std::pair<weft::net::TcpStream, weft::net::TcpStream> tcp_pair() {
  using namespace std::chrono_literals;
  weft::net::TcpListener listener = weft::net::TcpListener::bind({"127.0.0.1", 0});
  weft::net::TcpStream client = weft::net::TcpStream::connect(listener.local_address(), 5s);
  weft::net::TcpStream server = listener.accept(5s);
  return {std::move(client), std::move(server)};
}

// Bytes queued for reading on fd (SIOCINQ), to know that a write has arrived; -1 on error.
inline int queued(int fd) {
  int n = 0;
  return ::ioctl(fd, SIOCINQ, &n) == 0 ? n : -1;
}

// Waits (REQUIREs, up to 5 s) until at least `at_least` bytes are queued on fd. It asks
// SIOCINQ rather than poll(): in a fiber, poll() goes through the reactor, whose edges are
// what the code under test waits for.
inline void wait_queued(int fd, int at_least) {
  using namespace std::chrono_literals;
  const auto give_up = Clock::now() + 5s;
  while (queued(fd) < at_least && Clock::now() < give_up) std::this_thread::sleep_for(100us);
  REQUIRE(queued(fd) >= at_least);
}

}  // namespace weft_test
