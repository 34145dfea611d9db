// fd_close_race: fibers parked in read() on a pipe or socketpair while another fiber (on
// the same worker or another) or a plain thread writes to it, closes it, dup2()s a fresh
// file of the same kind over it, or dup()s it; then new pipes reuse the freed numbers.
// Checks: the waiter gets the data written to its own file or EBADF, never the new file's
// data when it was provably parked before the dup2 (a closer fiber on its worker saw it
// enter read), never EOF, never a hang; reused numbers deliver their own data.
#include "stress.hpp"
#include "support/racy_fd.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

namespace stress {
namespace {

enum class Mode { write, close, write_then_close, dup2, dup };
const char* mode_name(Mode m) {
  switch (m) {
    case Mode::write: return "write";
    case Mode::close: return "close";
    case Mode::write_then_close: return "write+close";
    case Mode::dup2: return "dup2";
    case Mode::dup: return "dup";
  }
  return "?";
}
enum class Closer { fiber_from_reader, fiber_elsewhere, plain_thread };

struct Pair {
  Mode mode;
  Closer closer;
  bool socket = false;
  bool use_recv = false;
  bool plain_reader = false;
  int fd = -1;     // what the reader reads
  int wfd = -1;    // the other end
  int new_r = -1;  // dup2: a fresh pipe or socketpair holding "NEW", put over fd
  int new_w = -1;
  std::uint64_t jitter_seed = 0;
  std::atomic<bool> entering{false};
  std::atomic<std::uintptr_t> reader_thread{0};
  // Results.
  ssize_t n = 0;
  int err = 0;
  char buf[16] = {};
  bool strict = false;  // the closer saw the reader parked (same worker, cooperative)
  std::atomic<bool> read_done{false}, act_done{false};
};

// What an fd number refers to now ("closed" if nothing), for failure messages.
std::string fd_target(int fd) {
  char link[256];
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  return n < 0 ? std::string("closed") : std::string(link, static_cast<std::size_t>(n));
}

std::uintptr_t self_id() { return static_cast<std::uintptr_t>(::pthread_self()); }

void make_fds(Pair& p) {
  int f[2];
  if (p.socket) {
    STRESS_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f) == 0, "socketpair: " << std::strerror(errno));
  } else {
    STRESS_CHECK(::pipe2(f, O_CLOEXEC) == 0, "pipe2: " << std::strerror(errno));
  }
  p.fd = f[0];
  p.wfd = f[1];
  if (p.mode == Mode::dup2) {
    // The same kind of file, so a recv that begins after the dup2 reads it (not ENOTSOCK).
    if (p.socket) {
      STRESS_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f) == 0, "socketpair: " << std::strerror(errno));
    } else {
      STRESS_CHECK(::pipe2(f, O_CLOEXEC) == 0, "pipe2: " << std::strerror(errno));
    }
    p.new_r = f[0];
    p.new_w = f[1];
    STRESS_CHECK(::write(p.new_w, "NEW", 3) == 3, "write NEW: " << std::strerror(errno));
  }
}

void write_old(Pair& p) {
  const ssize_t w = ::write(p.wfd, "OLD", 3);
  STRESS_CHECK(w == 3, "write OLD gave " << w << ": " << std::strerror(errno));
}

void act(Pair& p) {
  const auto until = Clock::now() + kBound;
  while (!p.entering.load()) {
    STRESS_CHECK(Clock::now() < until, "the reader never started");
    if (weft::in_fiber()) {
      weft::this_fiber::yield();
    } else {
      std::this_thread::sleep_for(20us);
    }
  }
  // Fibers on one worker take turns: the reader set `entering` and is not running, so it
  // is parked inside read().
  p.strict = weft::in_fiber() && p.reader_thread.load() == self_id();
  Rng r(p.jitter_seed);
  jitter(r);
  switch (p.mode) {
    case Mode::write:
      write_old(p);
      break;
    case Mode::close:
      STRESS_CHECK(weft_test::racing_close(p.fd) == 0, "close: " << std::strerror(errno));
      break;
    case Mode::write_then_close:
      write_old(p);
      STRESS_CHECK(weft_test::racing_close(p.fd) == 0, "close: " << std::strerror(errno));
      break;
    case Mode::dup2:
      STRESS_CHECK(weft_test::racing_dup2(p.new_r, p.fd) == p.fd, "dup2: " << std::strerror(errno));
      break;
    case Mode::dup: {
      const int g = ::dup(p.fd);
      STRESS_CHECK(g >= 0, "dup: " << std::strerror(errno));
      write_old(p);
      STRESS_CHECK(::close(g) == 0, "close of the dup: " << std::strerror(errno));
      break;
    }
  }
  p.act_done.store(true);
}

void read_it(Pair& p) {
  p.reader_thread.store(self_id());
  p.entering.store(true);
  p.n = p.use_recv ? ::recv(p.fd, p.buf, sizeof p.buf, 0) : ::read(p.fd, p.buf, sizeof p.buf);
  p.err = p.n < 0 ? errno : 0;
  p.read_done.store(true);
}

void check(const Pair& p, std::size_t i) {
  const std::string got = p.n > 0 ? std::string(p.buf, static_cast<std::size_t>(p.n))
                                  : p.n == 0 ? "EOF" : std::string("-1 ") + strerrorname_np(p.err);
  const bool old = got == "OLD", ebadf = p.n < 0 && p.err == EBADF;
  const std::string what = std::string("reader ") + std::to_string(i) + " (" + mode_name(p.mode) + ", " +
                           (p.socket ? "socketpair" : "pipe") + ", closer " +
                           std::to_string(static_cast<int>(p.closer)) + (p.strict ? ", parked first" : "") +
                           ") got " + got;
  switch (p.mode) {
    case Mode::write:
    case Mode::dup:
      STRESS_CHECK(old, what);
      break;
    case Mode::close:
      STRESS_CHECK(ebadf, what);
      break;
    case Mode::write_then_close:
      STRESS_CHECK(old || ebadf, what);
      break;
    case Mode::dup2:
      // Not parked first: its read may have begun after the dup2, on the new file.
      STRESS_CHECK(ebadf || (!p.strict && got == "NEW"), what);
      break;
  }
}

// Reused numbers: a fiber parks on a new pipe (likely a number just freed) and must get
// exactly what a plain thread or another fiber writes later.
void reuse_round(Rng& rng) {
  int f[2];
  STRESS_CHECK(::pipe2(f, O_CLOEXEC) == 0, "pipe2: " << std::strerror(errno));
  auto reader = weft::spawn([fd = f[0]] {
    char b[16];
    const ssize_t n = ::read(fd, b, sizeof b);
    return n > 0 ? std::string(b, static_cast<std::size_t>(n)) : "n=" + std::to_string(n) + " " + strerrorname_np(errno);
  });
  const auto js = rng.next();
  auto writer = [fd = f[1], js] {
    Rng r(js);
    jitter(r);
    STRESS_CHECK(::write(fd, "REUSE", 5) == 5, "write: " << std::strerror(errno));
  };
  if (rng.chance(1, 2)) {
    PlainThread(writer).join();
  } else {
    weft::spawn(writer).get();
  }
  STRESS_AWAIT(reader, "a read on a reused fd number");
  STRESS_CHECK(reader.get() == "REUSE", "a read on reused fd " << f[0] << " got " << reader.get());
  ::close(f[0]);
  ::close(f[1]);
}

void fd_close_race(Context& ctx) {
  const int pairs = ctx.rng.between(1, 6);
  // close/dup2 free or replace numbers while readers may still be starting, so no new fd
  // may appear meanwhile: dup (which takes the lowest free number) runs in other rounds.
  const bool dup_round = ctx.rng.chance(1, 4);
  std::vector<std::unique_ptr<Pair>> ps;
  for (int i = 0; i < pairs; ++i) {
    auto p = std::make_unique<Pair>();
    p->mode = dup_round ? (ctx.rng.chance(1, 2) ? Mode::dup : Mode::write)
                        : static_cast<Mode>(ctx.rng.below(4));
    p->closer = static_cast<Closer>(ctx.rng.below(3));
    p->socket = ctx.rng.chance(1, 2);
    p->use_recv = p->socket && ctx.rng.chance(1, 2);
    // A plain thread blocked in read() is not woken by close (the kernel's rule), so plain
    // readers only where data comes.
    p->plain_reader = (p->mode == Mode::write || p->mode == Mode::dup) && ctx.rng.chance(1, 5);
    if (p->plain_reader && p->closer == Closer::fiber_from_reader) p->closer = Closer::fiber_elsewhere;
    p->jitter_seed = ctx.rng.next();
    ps.push_back(std::move(p));
  }
  // Made on this thread or in a fiber (which makes weft switch them to non-blocking).
  if (ctx.rng.chance(1, 2)) {
    for (auto& p : ps) make_fds(*p);
  } else {
    weft::run([&ps] {
      for (auto& p : ps) make_fds(*p);
    });
  }

  std::vector<weft::Unfuture<void>> fibers;
  std::vector<PlainThread> threads;
  for (auto& up : ps) {
    Pair* p = up.get();
    if (p->plain_reader) {
      threads.emplace_back([p] { read_it(*p); });
    } else if (p->closer == Closer::fiber_from_reader) {
      fibers.push_back(weft::spawn([p] {
        auto closer = weft::spawn([p] { act(*p); });
        read_it(*p);
        STRESS_AWAIT(closer, "the closer fiber started by the reader");
      }));
      continue;
    } else {
      fibers.push_back(weft::spawn([p] { read_it(*p); }));
    }
    if (p->closer == Closer::plain_thread) {
      threads.emplace_back([p] { act(*p); });
    } else {
      fibers.push_back(weft::spawn([p] { act(*p); }));
    }
  }
  const auto t0 = Clock::now();
  for (auto& f : fibers) {
    if (!f.wait_until(t0 + kBound)) {
      std::ostringstream os;
      for (std::size_t i = 0; i < ps.size(); ++i) {
        const Pair& p = *ps[i];
        os << " [" << i << ": " << mode_name(p.mode) << (p.socket ? " socketpair" : " pipe") << " fd " << p.fd
           << ", closer " << static_cast<int>(p.closer) << (p.plain_reader ? ", plain reader" : "")
           << (p.entering ? ", entered read" : "") << (p.read_done ? ", read returned" : "")
           << (p.act_done ? ", acted" : "") << (p.strict ? " (saw it parked)" : "") << "; fd now "
           << fd_target(p.fd) << "]";
      }
      STRESS_CHECK(false, not_done_message("a reader or closer fiber", t0, f.ready()) << ";" << os.str());
    }
    f.get();
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < ps.size(); ++i) check(*ps[i], i);
  for (auto& p : ps) {
    if (p->mode != Mode::close && p->mode != Mode::write_then_close) ::close(p->fd);
    ::close(p->wfd);
    if (p->new_r >= 0) ::close(p->new_r);
    if (p->new_w >= 0) ::close(p->new_w);
  }
  for (int k = ctx.rng.between(1, 2); k > 0; --k) reuse_round(ctx.rng);
}

const Registered reg{{"fd_close_race",
                      "reads parked on pipes/socketpairs while fibers or threads write, close, dup2 or dup them",
                      fd_close_race}};

}  // namespace
}  // namespace stress
