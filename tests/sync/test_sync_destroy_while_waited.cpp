// Destroying a coordination object that someone still waits on (or a Mutex still held)
// ends the process with a message naming the object, instead of freeing memory a parked
// fiber will touch. Each case runs in a forked child whose stderr the parent reads; the
// parent starts weft only in the last case (after every fork), so each child starts a
// fresh runtime. That last case is the other side: destroying a ConditionVariable right
// after notify_all is allowed, and waits for the woken waiters to leave.
#include "support/child_process.hpp"
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

// Forks; the child sends stderr to a temporary file and runs body, then exits 0 (the
// object survived, which is the failure). Returns how the child ended and what it printed.
template <class Body>
weft_test::ChildResult in_child(Body body) {
  const int err_fd = weft_test::temp_fd();
  REQUIRE(err_fd >= 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err_fd, 2);
    body();
    ::_exit(0);
  }
  REQUIRE(pid > 0);
  weft_test::ChildResult r = weft_test::wait_with_deadline(pid, std::chrono::milliseconds(20000 * WEFT_TEST_SLACK));
  r.err = weft_test::slurp_fd(err_fd);
  ::close(err_fd);
  return r;
}

void check_aborted_saying(const weft_test::ChildResult& r, const std::string& message) {
  INFO("child " << weft_test::describe(r) << "; stderr: " << r.err);
  CHECK(r.signal == SIGABRT);
  CHECK(r.err.find("weft: fatal: " + message) != std::string::npos);
}

// In the child: a fiber parks waiting on `object` (`wait` does that), then the object is
// destroyed under it.
template <class T, class Wait>
void destroy_while_a_fiber_waits(std::optional<T>& object, weft::WaitKind why, Wait wait) {
  auto waiter = weft::spawn([&] { wait(*object); });
  if (!weft_test::wait_parked_on(&*object, 1, why)) ::_exit(3);
  object.reset();
}

}  // namespace

TEST_CASE("a Mutex destroyed while locked") {
  check_aborted_saying(in_child([] {
                         std::optional<weft::Mutex> m(std::in_place);
                         m->lock();
                         m.reset();
                       }),
                       "weft::Mutex destroyed while locked");
}

TEST_CASE("a Mutex destroyed while a fiber waits to lock it") {
  check_aborted_saying(in_child([] {
                         std::optional<weft::Mutex> m(std::in_place);
                         m->lock();
                         destroy_while_a_fiber_waits(m, weft::WaitKind::mutex, [](weft::Mutex& mx) { mx.lock(); });
                       }),
                       "weft::Mutex destroyed while fibers or threads wait to lock it");
}

TEST_CASE("a ConditionVariable destroyed while a fiber waits on it") {
  check_aborted_saying(in_child([] {
                         weft::Mutex m;
                         std::optional<weft::ConditionVariable> cv(std::in_place);
                         destroy_while_a_fiber_waits(cv, weft::WaitKind::condition, [&](weft::ConditionVariable& c) {
                           std::unique_lock lk(m);
                           c.wait(lk);
                         });
                       }),
                       "weft::ConditionVariable destroyed while fibers or threads wait on it");
}

TEST_CASE("an Event, a Semaphore and a WaitGroup destroyed while a fiber waits on each") {
  check_aborted_saying(in_child([] {
                         std::optional<weft::Event> e(std::in_place);
                         destroy_while_a_fiber_waits(e, weft::WaitKind::event, [](weft::Event& ev) { ev.wait(); });
                       }),
                       "weft::Event destroyed while fibers or threads wait on it");
  check_aborted_saying(in_child([] {
                         std::optional<weft::Semaphore> s(std::in_place, 0);
                         destroy_while_a_fiber_waits(s, weft::WaitKind::semaphore, [](weft::Semaphore& sm) { sm.acquire(); });
                       }),
                       "weft::Semaphore destroyed while fibers or threads wait on it");
  check_aborted_saying(in_child([] {
                         std::optional<weft::WaitGroup> wg(std::in_place);
                         wg->add();
                         destroy_while_a_fiber_waits(wg, weft::WaitKind::event, [](weft::WaitGroup& g) { g.wait(); });
                       }),
                       "weft::WaitGroup or weft::Latch destroyed while fibers or threads wait on it");
}

TEST_CASE("destroying a ConditionVariable right after notify_all is allowed, as std allows") {
  // The woken waiters have not returned yet; the destructor lets them out first. Here
  // in the parent: nothing aborts, and (under ASan) nothing touches freed memory.
  for (int round = 0; round < 200; ++round) {
    weft::Mutex m;
    auto cv = std::make_unique<weft::ConditionVariable>();
    std::vector<weft::Unfuture<void>> waiters;
    for (int i = 0; i < 3; ++i) {
      waiters.push_back(weft::spawn([&m, c = cv.get()] {
        std::unique_lock lk(m);
        c->wait(lk);
      }));
    }
    REQUIRE(weft_test::wait_parked_on(cv.get(), 3, weft::WaitKind::condition));
    cv->notify_all();
    cv.reset();
    for (auto& w : waiters) w.get();
  }
}
