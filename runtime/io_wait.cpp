#include "io_wait.hpp"

#include "libc.hpp"
#include "park.hpp"
#include "runtime.hpp"
#include "worker.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <utility>

namespace weft::rt {

namespace {

std::uint64_t make_token(int fd, std::uint32_t generation) noexcept {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}

// An edge: wakes every fiber parked for it; with none woken, remembers it for the next
// one to park.
void wake_for_edge_locked(WaitList& q, bool& ready) noexcept {
  if (wake_all(q) == 0) ready = true;
}

// The fd is closed or replaced: its waiters wake with EBADF.
void wake_closed_locked(FdState& s) noexcept {
  wake_all(s.readers, ParkResult::closed);
  wake_all(s.writers, ParkResult::closed);
}

// A new use of the fd number begins: waiters of the old one wake with EBADF (they see the
// generation move), and everything learnt about the old file is dropped. Returns the
// worker whose reactor still watches the old file, or -1.
int reset_locked(FdState& s) noexcept {
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  wake_closed_locked(s);
  s.kind.store(FdKind::unknown, std::memory_order_release);
  s.user_nonblock.store(false, std::memory_order_relaxed);
  s.recv_timeout_ns.store(0, std::memory_order_relaxed);
  s.send_timeout_ns.store(0, std::memory_order_relaxed);
  s.timeout_epoch.store(0, std::memory_order_relaxed);
  s.is_socket = false;
  s.nowait_refused.store(false, std::memory_order_relaxed);
  s.write_nowait_refused.store(false, std::memory_order_relaxed);
  s.handed_back.store(false, std::memory_order_relaxed);
  s.read_ready = s.write_ready = false;
  return std::exchange(s.armed_worker, -1);
}

void disarm(int worker, int fd) noexcept {
  if (worker < 0) return;
  if (Runtime* r = Runtime::if_started()) r->worker(static_cast<unsigned>(worker)).disarm_fd(fd);
}

}  // namespace

std::int64_t socket_timeout_ns(int fd, int name) noexcept {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (WEFT_REAL(getsockopt)(fd, SOL_SOCKET, name, &tv, &len) != 0) return 0;
  return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(tv.tv_usec) * 1000;
}

namespace {
// Starts at 1 so that a fresh entry (epoch 0) asks the kernel on its first wait.
std::atomic<std::uint32_t> timeouts_epoch{1};
}  // namespace

void note_socket_timeouts_changed() noexcept {
  timeouts_epoch.fetch_add(1, std::memory_order_acq_rel);
}

std::int64_t wait_timeout_ns(int fd, FdState& s, IoDir dir) noexcept {
  if (!s.is_socket.load(std::memory_order_acquire)) return 0;
  const std::uint32_t epoch = timeouts_epoch.load(std::memory_order_acquire);
  if (s.timeout_epoch.load(std::memory_order_acquire) != epoch) {
    s.recv_timeout_ns.store(socket_timeout_ns(fd, SO_RCVTIMEO), std::memory_order_relaxed);
    s.send_timeout_ns.store(socket_timeout_ns(fd, SO_SNDTIMEO), std::memory_order_relaxed);
    s.timeout_epoch.store(epoch, std::memory_order_release);
  }
  return (dir == IoDir::read ? s.recv_timeout_ns : s.send_timeout_ns).load(std::memory_order_relaxed);
}

std::int64_t deadline_after_ns(std::int64_t timeout_ns) noexcept {
  return timeout_ns <= 0 ? -1 : monotonic_ns() + timeout_ns;
}

FdKind classify_unknown_fd(int fd, FdState& s) noexcept {
  auto lk = lock_fiber_spinlock(s.lock);
  FdKind kind = s.kind.load(std::memory_order_relaxed);
  if (kind != FdKind::unknown) return kind;
  struct stat st;
  // An invalid fd stays unknown; the call itself reports EBADF.
  if (::fstat(fd, &st) != 0) return FdKind::passthrough;
  // Sockets, pipes, character devices (ttys) and anonymous inodes (eventfd, timerfd,
  // signalfd, inotify, pidfd: no file type) can be polled. A character device that cannot
  // be (/dev/null) is always ready to poll(), so its calls never park.
  const mode_t type = st.st_mode & S_IFMT;
  if (type == S_IFSOCK || type == S_IFIFO || type == S_IFCHR || type == 0) {
    s.is_socket = type == S_IFSOCK;  // its timeouts are read at its first wait
    kind = FdKind::borrowed;
  } else if (type == S_IFREG) {
    kind = FdKind::file;
  } else {
    kind = FdKind::passthrough;
  }
  s.kind.store(kind, std::memory_order_release);
  return kind;
}

IoWait park_on_fd(int fd, FdState& s, std::uint32_t generation, IoDir dir,
                  std::int64_t deadline_ns, WaitKind why) noexcept {
  Worker& here = *Worker::current();
  auto lk = lock_fiber_spinlock(s.lock);
  if (s.generation.load(std::memory_order_relaxed) != generation) return IoWait::closed;
  bool& ready = dir == IoDir::read ? s.read_ready : s.write_ready;
  if (std::exchange(ready, false)) return IoWait::ready;
  if (deadline_ns >= 0 && monotonic_ns() >= deadline_ns) return IoWait::timed_out;
  if (s.armed_worker != static_cast<int>(here.index())) {
    // The watch follows the latest parker: a reactor that is not this worker's reports
    // the edge only when its own worker next polls, which a worker busy computing may
    // not do for seconds. Registering reports readiness that is already there, so
    // nothing is missed between the caller's EAGAIN and now, nor by the move: the new
    // watch is in place before the old one goes, and an edge the old reactor already
    // collected still wakes this fiber from there (same generation).
    const int err = here.arm_fd(fd, make_token(fd, generation));
    if (err < 0 && err != -EEXIST) {
      errno = -err;
      return IoWait::failed;
    }
    disarm(std::exchange(s.armed_worker, static_cast<int>(here.index())), fd);
  }
  if (why == WaitKind::none) why = dir == IoDir::read ? WaitKind::fd_read : WaitKind::fd_write;
  const ParkResult r = park(dir == IoDir::read ? s.readers : s.writers, lk,
                            deadline_from_ns(deadline_ns), {why, &s, fd});
  if (r == ParkResult::closed || s.generation.load(std::memory_order_relaxed) != generation) {
    return IoWait::closed;
  }
  switch (r) {
    case ParkResult::timed_out: return IoWait::timed_out;
    case ParkResult::cancelled: return IoWait::cancelled;
    default: return IoWait::ready;
  }
}

IoWait block_on_fd(int fd, IoDir dir, std::int64_t deadline_ns) noexcept {
  pollfd p{fd, static_cast<short>(dir == IoDir::read ? POLLIN : POLLOUT), 0};
  timespec ts{};
  timespec* timeout = nullptr;
  if (deadline_ns >= 0) {
    std::int64_t left = deadline_ns - monotonic_ns();
    if (left < 0) left = 0;
    ts = timespec{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    timeout = &ts;
  }
  const int n = WEFT_REAL(ppoll)(&p, 1, timeout, nullptr);
  if (n < 0) return errno == EINTR ? IoWait::interrupted : IoWait::failed;
  if (n == 0) return IoWait::timed_out;
  if ((p.revents & POLLNVAL) != 0) return IoWait::closed;
  return IoWait::ready;
}

namespace {

// retire_fd for an entry in hand.
void retire_entry(int fd, FdState& s) noexcept {
  auto lk = lock_fiber_spinlock(s.lock);
  const int armed = reset_locked(s);
  lk.unlock();
  // Before the fd is closed: a dup of the same file elsewhere would keep the watch alive
  // under this number.
  disarm(armed, fd);
}

// After a close that weft did not hold the entry's lock across: a call that read the
// generation meanwhile finds the number closed, waiters wake with EBADF, the watch goes.
// What the entry says of the file is kept: the number may already name a new file.
void mark_closed(int fd, FdState& s) noexcept {
  auto lk = lock_fiber_spinlock(s.lock);
  s.generation.fetch_add(1, std::memory_order_acq_rel);
  wake_closed_locked(s);
  disarm(std::exchange(s.armed_worker, -1), fd);
}

}  // namespace

void retire_fd(int fd) noexcept {
  if (FdState* s = find_fd_state(fd)) retire_entry(fd, *s);
}

int retire_fd_around_impl(int fd, int (*op)(void*), void* arg) noexcept {
  FdState* s = fd < 0 ? nullptr : find_fd_state(fd);
  if (s == nullptr) {
    // No entry, so no fiber has used this number: nothing to retire, and none is made
    // (closing every number up to the limit must not build the whole table). A fiber that
    // made one while op ran may have parked on the file op closed: it wakes, sees the
    // generation moved (EBADF), and the watch is dropped. What the entry says of the
    // file is kept: the number may already name a new file, adopted meanwhile.
    const int r = op(arg);
    const int err = errno;
    if (fd >= 0 && (s = find_fd_state(fd)) != nullptr) mark_closed(fd, *s);
    errno = err;
    return r;
  }
  auto lk = lock_fiber_spinlock(s->lock);
  disarm(reset_locked(*s), fd);
  const int r = op(arg);
  const int err = errno;
  // A fiber that read the generation while op ran may have found the file still open and
  // got EAGAIN: it must find the number closed when it comes to park (under this lock),
  // not park on a file whose watch the kernel has just dropped.
  s->generation.fetch_add(1, std::memory_order_acq_rel);
  errno = err;
  return r;
}

int retire_fd_range_around_impl(int first, int last, int (*op)(void*), void* arg) noexcept {
  for_each_fd_state(first, last, [](int fd, FdState& s, void*) { retire_entry(fd, s); }, nullptr);
  const int r = op(arg);
  const int err = errno;
  for_each_fd_state(first, last, [](int fd, FdState& s, void*) { mark_closed(fd, s); }, nullptr);
  errno = err;
  return r;
}

void adopt_fd(int fd, bool managed, bool user_nonblock, bool is_socket) noexcept {
  FdState& s = fd_state(fd);
  auto lk = lock_fiber_spinlock(s.lock);
  // The number was free, so anything recorded is from a file closed behind weft's back
  // (by a raw syscall, say); its watch, if any, died with it.
  reset_locked(s);
  s.is_socket = is_socket;
  // A new socket has no timeouts: nothing to ask the kernel until one is set.
  s.timeout_epoch.store(timeouts_epoch.load(std::memory_order_acquire), std::memory_order_release);
  s.user_nonblock.store(user_nonblock, std::memory_order_relaxed);
  s.kind.store(managed ? FdKind::managed : FdKind::unknown, std::memory_order_release);
}

namespace {

// A managed fd is being dup'd: from now on two descriptors share its O_NONBLOCK, which
// the kernel keeps per open file and weft kept per descriptor. So weft gives the flag back:
// the kernel's becomes the user's again, and the file is borrowed from then on (each call
// non-blocking by itself), in both descriptors. False if the kernel refused (the fd then
// stays managed, its flag per descriptor as before).
bool hand_back_flags_locked(int fd, FdState& s) noexcept {
  if (shares_files_with_parent()) return false;  // the parent's fibers rely on the flag
  const int flags = WEFT_REAL(fcntl)(fd, F_GETFL);
  if (flags < 0) return false;
  const int users = s.user_nonblock.load(std::memory_order_relaxed) ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (users != flags && WEFT_REAL(fcntl)(fd, F_SETFL, users) != 0) return false;
  s.handed_back.store(true, std::memory_order_relaxed);
  s.kind.store(FdKind::borrowed, std::memory_order_release);
  return true;
}

}  // namespace

void hand_back_flags(int fd) noexcept {
  FdState* s = find_fd_state(fd);
  if (s == nullptr) return;
  auto lk = lock_fiber_spinlock(s->lock);
  if (s->kind.load(std::memory_order_relaxed) == FdKind::managed) (void)hand_back_flags_locked(fd, *s);
}

void adopt_dup(int from, int to) noexcept {
  FdState* src = find_fd_state(from);
  FdKind kind = FdKind::unknown;
  bool user_nonblock = false, is_socket = false;
  if (src != nullptr) {
    auto lk = lock_fiber_spinlock(src->lock);
    kind = src->kind.load(std::memory_order_relaxed);
    if (kind == FdKind::managed && hand_back_flags_locked(from, *src)) kind = FdKind::borrowed;
    user_nonblock = src->user_nonblock.load(std::memory_order_relaxed);
    is_socket = src->is_socket;
  }
  FdState& dst = fd_state(to);
  auto lk = lock_fiber_spinlock(dst.lock);
  reset_locked(dst);
  dst.is_socket = is_socket;
  dst.user_nonblock.store(user_nonblock, std::memory_order_relaxed);
  // Its timeouts (the same socket's) are read at its first wait.
  dst.kind.store(kind, std::memory_order_release);
}

namespace {

// Runs op() with fd's lock held if fd still has `generation`: closing retires the fd under
// this lock first, so while it is held the number names the file it named then.
template <class Op>
int if_current(int fd, std::uint32_t generation, Op op) noexcept {
  FdState* s = find_fd_state(fd);
  if (s == nullptr) {
    errno = EBADF;
    return -1;
  }
  auto lk = lock_fiber_spinlock(s->lock);
  if (s->generation.load(std::memory_order_relaxed) != generation) {
    errno = EBADF;
    return -1;
  }
  return op(*s);
}

}  // namespace

int shutdown_if_current(int fd, std::uint32_t generation, int how) noexcept {
  return if_current(fd, generation, [&](FdState&) { return WEFT_REAL(shutdown)(fd, how); });
}

int with_fd_if_current_impl(int fd, std::uint32_t generation, int (*op)(void*), void* arg) noexcept {
  return if_current(fd, generation, [&](FdState&) { return op(arg); });
}

void dispatch_fd_event(const ReadyEvent& ev) noexcept {
  const int fd = static_cast<int>(static_cast<std::uint32_t>(ev.token));
  const auto generation = static_cast<std::uint32_t>(ev.token >> 32);
  FdState* s = find_fd_state(fd);
  if (s == nullptr) return;
  // A closed file's event: dropped without the lock, which a close may hold for as long
  // as the kernel's close takes (a lingering socket's).
  if (s->generation.load(std::memory_order_acquire) != generation) return;
  auto lk = lock_fiber_spinlock(s->lock);
  if (s->generation.load(std::memory_order_relaxed) != generation) return;
  if (ev.readable || ev.error) wake_for_edge_locked(s->readers, s->read_ready);
  if (ev.writable || ev.error) wake_for_edge_locked(s->writers, s->write_ready);
}

}  // namespace weft::rt
