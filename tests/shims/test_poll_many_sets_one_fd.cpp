// A thousand fibers polling the same two fds all park, and cost little CPU while they wait;
// so do six hundred epoll_waits on sets of their own over one fd. Each poll of several fds
// is an epoll set of its own, which the worker's reactor watches (and an epoll_wait's set
// is one too);
// the kernel refuses to nest more than 500 sets that watch one file into another epoll
// (fs/eventpoll.c's path limits), and the polls past that number used to ask again at
// once, for ever: half the fibers spun on their workers until a byte came.
#include <weft/weft.hpp>

#include "support/cpu_time.hpp"
#include "support/pipe.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Once the waiters have started, they must cost little CPU while they wait: spinning ones
// keep both workers busy, about as much CPU as wall time and more; napping ones cost a
// few percent (the check leaves room for a loaded machine). Then one byte on `wake_fd`
// ends every wait, and each must have seen it (1).
void check_quiet_then_woken(std::vector<weft::Unfuture<int>>& waiters, int wake_fd) {
  std::this_thread::sleep_for(300ms);  // every waiter has started and waits
  weft_test::CostMeter waiting;
  std::this_thread::sleep_for(500ms);
  waiting.stop();
  INFO("CPU " << waiting.cpu().count() << " us over "
            << std::chrono::duration_cast<std::chrono::microseconds>(waiting.wall()).count() << " us of waiting");
  CHECK(waiting.cpu() < waiting.wall() / 3);
  for (auto& w : waiters) CHECK(!w.ready());
  REQUIRE(::write(wake_fd, "x", 1) == 1);
  long saw = 0;
  for (auto& w : waiters) saw += w.get();
  CHECK(saw == static_cast<long>(waiters.size()));
}

}  // namespace

TEST_CASE("a thousand polls of the same fds all wait without spinning, and all see the byte") {
  REQUIRE(weft::current_config().threads >= 2);
  constexpr int kPollers = 1000;
  weft_test::Pipe a, b;
  std::vector<weft::Unfuture<int>> pollers;
  for (int i = 0; i < kPollers; ++i) {
    pollers.push_back(weft::spawn([&] {
      pollfd p[2] = {{a.in(), POLLIN, 0}, {b.in(), POLLIN, 0}};
      return ::poll(p, 2, -1) == 1 && p[0].revents == POLLIN ? 1 : 0;
    }));
  }
  check_quiet_then_woken(pollers, a.out());
}

TEST_CASE("six hundred epoll_waits, each on a set of its own over the same fd, wait without spinning") {
  REQUIRE(weft::current_config().threads >= 2);
  constexpr int kWaiters = 600;
  weft_test::Pipe a;
  std::vector<weft::Unfuture<int>> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(weft::spawn([&] {
      const int set = ::epoll_create1(EPOLL_CLOEXEC);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = a.in();
      if (set < 0 || ::epoll_ctl(set, EPOLL_CTL_ADD, a.in(), &ev) != 0) return -1;
      epoll_event got{};
      const int n = ::epoll_wait(set, &got, 1, -1);
      ::close(set);
      return n == 1 && got.data.fd == a.in() ? 1 : 0;
    }));
  }
  check_quiet_then_woken(waiters, a.out());
}
