// cancel_parked: fibers parked in a pipe read, a Channel receive, a Semaphore, a Mutex or a
// sleep, each on any worker, while a waker (the byte, the value, the permit, the unlock)
// and a stop (cancel() from a plain thread or a fiber, or the victim's own short Timeout)
// land at random moments around the park.
// Checks: nothing is lost whoever wins: the victim got the byte / value / permit, or it is
// still there afterwards; a mutex is never left locked. cancel() returns true (the victim
// cannot end on its own: after its first wait it sleeps). The stop is sticky: a victim
// whose first wait succeeded is stopped at its second; one whose hooked read failed with
// ECANCELED/ETIMEDOUT then throws at check_cancel(). It ends with cancelled_error (or
// timeout_error) within the bound.
#include "stress.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace stress {
namespace {

enum class Kind { pipe_read, channel_receive, semaphore, mutex, sleep, count };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::pipe_read: return "pipe read";
    case Kind::channel_receive: return "channel receive";
    case Kind::semaphore: return "semaphore";
    case Kind::mutex: return "mutex";
    case Kind::sleep: return "sleep";
    case Kind::count: break;
  }
  return "?";
}

struct Victim {
  Kind kind = Kind::sleep;
  bool by_timeout = false;
  std::chrono::microseconds timeout_after{0};
  int rfd = -1, wfd = -1;
  weft::Channel<int> channel{1};
  weft::Semaphore permits{0};
  weft::Mutex mutex;
  weft::Event mutex_held;
  std::atomic<bool> got{false};
  std::atomic<bool> cancel_won{false};
  weft::Unfuture<void> u;

  ~Victim() {
    if (rfd >= 0) ::close(rfd);
    if (wfd >= 0) ::close(wfd);
  }
};

// The victim's first wait; true if it got what it waited for. A stopped hooked read
// returns false (after checking its errno); weft's own waits throw.
bool first_wait(Victim& v) {
  switch (v.kind) {
    case Kind::pipe_read: {
      char c;
      const ssize_t n = ::read(v.rfd, &c, 1);
      if (n == 1) return true;
      const int err = errno;
      STRESS_CHECK(n == -1 && err == (v.by_timeout ? ETIMEDOUT : ECANCELED),
                   "a stopped read returned " << n << ", " << std::strerror(err));
      return false;
    }
    case Kind::channel_receive:
      STRESS_CHECK(v.channel.receive() == 7, "the channel gave another value");
      return true;
    case Kind::semaphore:
      v.permits.acquire();
      return true;
    case Kind::mutex:
      v.mutex.lock();
      v.mutex.unlock();
      return true;
    case Kind::sleep:
      weft::sleep_for(std::chrono::milliseconds(2));
      return true;
    case Kind::count: break;
  }
  return false;
}

void victim_body(Victim& v) {
  std::optional<weft::Timeout> timeout;
  if (v.by_timeout) timeout.emplace(v.timeout_after);
  if (!first_wait(v)) {
    weft::this_fiber::check_cancel();
    STRESS_CHECK(false, "a " << kind_name(v.kind) << " was stopped, yet check_cancel() did not throw");
  }
  v.got = true;
  weft::sleep_for(kBound * 3);  // only the stop ends this
  STRESS_CHECK(false, "a stopped fiber slept through its second wait (" << kind_name(v.kind) << ")");
}

void wake(Victim& v) {
  switch (v.kind) {
    case Kind::pipe_read:
      STRESS_CHECK(::write(v.wfd, "x", 1) == 1, "write: " << std::strerror(errno));
      break;
    case Kind::channel_receive:
      STRESS_CHECK(v.channel.try_send(7), "a channel of 1 had no room");
      break;
    case Kind::semaphore:
      v.permits.release();
      break;
    case Kind::mutex:
      v.mutex.unlock();  // locked by this same waker before the victim started
      break;
    case Kind::sleep:
      break;
    case Kind::count: break;
  }
}

// Whether what the waker gave is still there, taking it if so.
bool still_there(Victim& v) {
  switch (v.kind) {
    case Kind::pipe_read: {
      const int flags = ::fcntl(v.rfd, F_GETFL);
      ::fcntl(v.rfd, F_SETFL, flags | O_NONBLOCK);
      char c;
      const ssize_t n = ::read(v.rfd, &c, 1);
      ::fcntl(v.rfd, F_SETFL, flags);
      return n == 1;
    }
    case Kind::channel_receive:
      return static_cast<bool>(v.channel.try_receive());
    case Kind::semaphore:
      return v.permits.try_acquire();
    case Kind::mutex:
    case Kind::sleep:
    case Kind::count: break;
  }
  return false;
}

// Runs f after a jitter, on a plain thread or a fiber on any worker.
template <class F>
void later(Context& ctx, std::vector<PlainThread>& threads, std::vector<weft::Unfuture<void>>& fibers, F f) {
  auto delayed = [f, js = ctx.rng.next()]() mutable {
    Rng rr(js);
    jitter(rr);
    f();
  };
  if (ctx.rng.chance(1, 2)) {
    threads.emplace_back(std::move(delayed));
  } else {
    fibers.push_back(weft::spawn(std::move(delayed)));
  }
}

void cancel_parked(Context& ctx) {
  const int count = ctx.rng.between(1, 12);
  std::vector<std::unique_ptr<Victim>> victims;
  std::vector<PlainThread> threads;
  std::vector<weft::Unfuture<void>> fibers;
  for (int n = 0; n < count; ++n) {
    auto owned = std::make_unique<Victim>();
    Victim* v = owned.get();
    v->kind = static_cast<Kind>(ctx.rng.below(static_cast<std::uint64_t>(Kind::count)));
    v->by_timeout = ctx.rng.chance(1, 4);
    v->timeout_after = std::chrono::microseconds(ctx.rng.below(3000));
    if (v->kind == Kind::pipe_read) {
      int f[2];
      STRESS_CHECK(::pipe2(f, O_CLOEXEC) == 0, "pipe2: " << std::strerror(errno));
      v->rfd = f[0];
      v->wfd = f[1];
    }
    if (v->kind == Kind::mutex) {
      // The waker locks it first (a weft::Mutex is unlocked by its owner), then unlocks.
      auto hold_then_unlock = [v, js = ctx.rng.next()] {
        v->mutex.lock();
        v->mutex_held.set();
        Rng rr(js);
        jitter(rr);
        v->mutex.unlock();
      };
      if (ctx.rng.chance(1, 2)) {
        threads.emplace_back(hold_then_unlock);
      } else {
        fibers.push_back(weft::spawn(hold_then_unlock));
      }
      STRESS_CHECK(v->mutex_held.wait_for(kBound), "the mutex holder never locked");
    }
    // From a plain thread the victim lands on any worker; from a fiber, on the spawner's.
    // (run() would wait for an Unfuture returned bare: the vector keeps it a value.)
    auto body = [v] { victim_body(*v); };
    v->u = ctx.rng.chance(1, 2) ? weft::spawn(body) : weft::run([body] { return std::vector{weft::spawn(body)}; }).front();
    if (v->kind != Kind::mutex) later(ctx, threads, fibers, [v] { wake(*v); });
    if (!v->by_timeout) {
      later(ctx, threads, fibers, [v] {
        if (v->u.cancel()) v->cancel_won = true;
      });
    }
    victims.push_back(std::move(owned));
  }
  for (auto& f : fibers) {
    STRESS_AWAIT(f, "a waker or canceller fiber");
    f.get();
  }
  for (auto& t : threads) t.join();
  for (std::size_t n = 0; n < victims.size(); ++n) {
    Victim& v = *victims[n];
    const char* what = kind_name(v.kind);
    STRESS_AWAIT(v.u, "a stopped victim");
    STRESS_CHECK(v.by_timeout || v.cancel_won, "cancel() of a victim that cannot end on its own returned false (" << what << ")");
    bool right_error = false;
    try {
      v.u.get();
    } catch (const weft::timeout_error&) {
      right_error = v.by_timeout;
    } catch (const weft::cancelled_error&) {
      right_error = !v.by_timeout;
    }
    STRESS_CHECK(right_error, "victim " << n << " (" << what << ", by " << (v.by_timeout ? "Timeout" : "cancel")
                                        << ") ended without its stop's exception");
    if (v.kind == Kind::mutex) {
      STRESS_CHECK(v.mutex.try_lock(), "the mutex was left locked after its waiter was stopped");
      v.mutex.unlock();
    } else if (v.kind != Kind::sleep) {
      const bool there = still_there(v);
      STRESS_CHECK(v.got != there, "victim " << n << " (" << what << "): got " << v.got.load() << ", still there "
                                             << there << (v.got ? " (given twice)" : " (lost)"));
    }
  }
}

const Registered reg{{"cancel_parked",
                      "fibers parked in read, channel, semaphore, mutex and sleep, woken and stopped at once",
                      cancel_parked}};

}  // namespace
}  // namespace stress
