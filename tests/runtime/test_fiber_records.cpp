// Every kind of wait shows in the parked fiber's record: list_fibers() names each fiber,
// its worker, that it is parked, on what, since when and until when. Fibers run on every
// worker (spawned from a plain thread, so spread round robin).
#include <weft/weft.hpp>

#include "support/gate.hpp"
#include "support/pipe.hpp"

#include <doctest/doctest.h>

#include <boost/fiber/operations.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

std::map<std::string, weft::FiberInfo> by_name(const std::vector<weft::FiberInfo>& all) {
  std::map<std::string, weft::FiberInfo> out;
  for (const auto& f : all) {
    if (!f.name.empty()) out[f.name] = f;
  }
  return out;
}

// Polls list_fibers() until every fiber in `names` is parked; returns the last listing.
std::map<std::string, weft::FiberInfo> wait_all_parked(const std::vector<std::string>& names) {
  std::map<std::string, weft::FiberInfo> seen;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < give_up) {
    seen = by_name(weft::list_fibers());
    const bool all = std::all_of(names.begin(), names.end(), [&](const std::string& n) {
      auto it = seen.find(n);
      return it != seen.end() && it->second.state == weft::FiberState::parked;
    });
    if (all) return seen;
    std::this_thread::sleep_for(5ms);
  }
  return seen;
}

}  // namespace

TEST_CASE("a parked fiber's record says what it waits on, since when and until when") {
  const unsigned workers = weft::current_config().threads;
  REQUIRE(workers >= 2);            // the default on this machine (CPU count)
  weft::spawn_process(nap, 0).get();  // a worker process is up
  weft_test::Pipe reads, poll_a, poll_b;
  int stream[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, stream) == 0);
  weft::Promise<int> promise;
  weft_test::Gate gate;

  const auto before = std::chrono::steady_clock::now();
  std::vector<weft::Unfuture<void>> fibers;
  auto named = [&](const char* name, auto f) {
    fibers.push_back(weft::spawn(weft::FiberOptions{name}, f).then([](weft::Unfuture<void> u) { u.get(); }));
  };
  named("reader", [&] {
    char c;
    CHECK(::read(reads.fds[0], &c, 1) == 1);
  });
  named("writer", [&] {
    // Fills the socket's buffers, then parks until the reader below drains them.
    std::vector<char> big(8 << 20, 'x');
    std::size_t sent = 0;
    while (sent < big.size()) {
      const ssize_t n = ::write(stream[0], big.data() + sent, big.size() - sent);
      REQUIRE(n > 0);
      sent += static_cast<std::size_t>(n);
    }
  });
  named("poller", [&] {
    pollfd p[2] = {{poll_a.fds[0], POLLIN, 0}, {poll_b.fds[0], POLLIN, 0}};
    CHECK(::poll(p, 2, -1) == 1);
  });
  named("sleeper", [] { weft::sleep_for(300ms); });
  named("joiner", [&] { CHECK(promise.get_unfuture().get() == 7); });
  named("timed joiner", [&] { CHECK(promise.get_unfuture().wait_for(30s)); });
  named("blocking caller", [&] { weft::spawn_blocking([&] { gate.pass(); }).get(); });
  named("process caller", [] { CHECK(weft::spawn_process(nap, 600).get() == 600); });
  const std::vector<std::string> names = {"reader", "writer", "poller", "sleeper", "joiner",
                                          "timed joiner", "blocking caller", "process caller"};

  auto seen = wait_all_parked(names);
  const auto after = std::chrono::steady_clock::now();
  std::set<std::uint64_t> ids;
  std::set<unsigned> on_workers;
  for (const auto& n : names) {
    CAPTURE(n);
    REQUIRE(seen.count(n) == 1);
    const weft::FiberInfo& f = seen[n];
    CHECK(f.state == weft::FiberState::parked);
    CHECK(f.id != 0);
    ids.insert(f.id);
    CHECK(f.worker < workers);
    on_workers.insert(f.worker);
    // The coarse clock may run one tick (up to 4 ms here) behind the precise one.
    CHECK(f.waiting_since >= before - 10ms);
    CHECK(f.waiting_since <= after);
  }
  CHECK(ids.size() == names.size());  // no two fibers share an id
  CHECK(on_workers.size() == 2);      // spread over both workers

  CHECK(seen["reader"].wait == weft::WaitKind::fd_read);
  CHECK(seen["reader"].fd == reads.fds[0]);
  CHECK(!seen["reader"].deadline);
  CHECK(seen["writer"].wait == weft::WaitKind::fd_write);
  CHECK(seen["writer"].fd == stream[0]);
  CHECK(seen["poller"].wait == weft::WaitKind::fd_set);
  CHECK(seen["poller"].fd >= 0);  // poll's own epoll set, not one of the fds polled
  CHECK(seen["poller"].fd != poll_a.fds[0]);
  CHECK(seen["sleeper"].wait == weft::WaitKind::timer);
  REQUIRE(seen["sleeper"].deadline);
  CHECK(*seen["sleeper"].deadline >= before + 300ms);
  CHECK(*seen["sleeper"].deadline <= after + 300ms);
  CHECK(seen["joiner"].wait == weft::WaitKind::unfuture);
  CHECK(seen["joiner"].object != nullptr);
  CHECK(!seen["joiner"].deadline);
  CHECK(seen["timed joiner"].wait == weft::WaitKind::unfuture);
  CHECK(seen["timed joiner"].object == seen["joiner"].object);  // the same promise's state
  REQUIRE(seen["timed joiner"].deadline);
  CHECK(*seen["timed joiner"].deadline >= before + 30s);
  CHECK(seen["blocking caller"].wait == weft::WaitKind::blocking_call);
  CHECK(seen["process caller"].wait == weft::WaitKind::process_task);

  // Let every one of them go; each record leaves the list when its fiber ends.
  CHECK(::write(reads.fds[1], "r", 1) == 1);
  CHECK(::write(poll_b.fds[1], "p", 1) == 1);
  promise.set_value(7);
  gate.open();
  std::thread drain([&] {
    char buf[65536];
    std::size_t got = 0;
    while (got < (8u << 20)) {
      const ssize_t n = ::read(stream[1], buf, sizeof buf);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
  });
  for (auto& f : fibers) f.get();
  drain.join();
  ::close(stream[0]);
  ::close(stream[1]);
  for (const auto& f : weft::list_fibers()) CHECK(ids.count(f.id) == 0);
}

TEST_CASE("a woken fiber's record says so, and a running one's says running") {
  weft::Promise<void> go;
  auto parked = weft::spawn(weft::FiberOptions{"waits"}, [u = go.get_unfuture()] { u.get(); });
  auto seen = wait_all_parked({"waits"});
  REQUIRE(seen["waits"].state == weft::FiberState::parked);
  weft::run([&] {
    // The listing's own fiber runs, and is listed with its own id and name.
    const auto me = weft::this_fiber::id();
    bool found = false;
    for (const auto& f : weft::list_fibers()) {
      if (f.id != me) continue;
      found = true;
      CHECK(f.state == weft::FiberState::running);
      CHECK(f.wait == weft::WaitKind::none);
    }
    CHECK(found);
  });
  go.set_value();
  parked.get();
  // Its result comes out just before its fiber ends, and the record leaves as it ends.
  const auto listed = [] {
    for (const auto& f : weft::list_fibers()) {
      if (f.name == "waits") return true;
    }
    return false;
  };
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (listed() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  CHECK(!listed());
}

TEST_CASE("a fiber that never left the CPU is listed, and so is one that left it through Boost") {
  // Records are listed lazily, on a fiber's first switch-out (fiber_record.hpp): until
  // then a walker must still find the worker's running fiber.
  std::atomic<bool> release{false};
  auto spinner = weft::spawn(weft::FiberOptions{"spinner"}, [&] {
    while (!release.load(std::memory_order_acquire)) {
    }  // holds its worker without a switch
  });
  std::atomic<bool> boost_yielded{false};
  auto yielder = weft::spawn(weft::FiberOptions{"boost yielder"}, [&] {
    boost::this_fiber::yield();  // leaves the CPU without weft's park or yield
    boost_yielded.store(true);
    while (!release.load(std::memory_order_acquire)) boost::this_fiber::yield();
  });
  std::map<std::string, weft::FiberInfo> seen;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < give_up) {
    seen = by_name(weft::list_fibers());
    if (seen.count("spinner") == 1 && boost_yielded.load() && seen.count("boost yielder") == 1) break;
    std::this_thread::sleep_for(5ms);
  }
  release.store(true);
  spinner.get();
  yielder.get();
  REQUIRE(seen.count("spinner") == 1);
  CHECK(seen["spinner"].state == weft::FiberState::running);
  CHECK(seen["spinner"].id != 0);
  CHECK(seen.count("boost yielder") == 1);
  const auto after = by_name(weft::list_fibers());
  CHECK(after.count("spinner") == 0);  // gone once ended, listed or not
  CHECK(after.count("boost yielder") == 0);
}

TEST_CASE("this_fiber::id and name: unique per fiber on every worker, 0 and empty off fibers") {
  CHECK(weft::this_fiber::id() == 0);
  CHECK(weft::this_fiber::name().empty());
  CHECK(weft::spawn_blocking([] { return weft::this_fiber::id(); }).get() == 0);
  std::vector<weft::Unfuture<std::uint64_t>> all;
  for (int i = 0; i < 200; ++i) {
    // Fibers spawned by fibers too, which idle workers may steal before they start.
    all.push_back(weft::spawn([] {
      auto inner = weft::spawn([] { return weft::this_fiber::id(); });
      weft::this_fiber::yield();
      const auto mine = weft::this_fiber::id();
      CHECK(inner.get() != mine);
      return mine;
    }));
  }
  std::set<std::uint64_t> ids;
  for (auto& u : all) ids.insert(u.get());
  CHECK(ids.size() == all.size());
  CHECK(ids.count(0) == 0);
  auto named = weft::spawn(weft::FiberOptions{"alice"}, [] {
    weft::sleep_for(1ms);  // the name survives a park
    return std::string(weft::this_fiber::name());
  });
  CHECK(named.get() == "alice");
  CHECK(weft::spawn([] { return std::string(weft::this_fiber::name()); }).get().empty());
}
