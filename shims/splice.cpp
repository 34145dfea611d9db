// Moving data between two fds inside the kernel: splice, tee, vmsplice, sendfile and
// copy_file_range. On an fd weft made non-blocking underneath (a socket or pipe a fiber
// made) libc's call would say EAGAIN where the user's blocking fd would wait, and on a
// borrowed one (fd_table.hpp) it would block the worker. In a fiber (and on a plain
// thread using an fd weft made non-blocking) each call is tried
// with SPLICE_F_NONBLOCK (the pipe side never waits) once both fds are ready; while one is
// not, the fiber parks on it (poll), unless the user asked for non-blocking behaviour on it
// (SPLICE_F_NONBLOCK, or O_NONBLOCK as fcntl shows it): then EAGAIN, as libc.
//
// A borrowed fd keeps its flags, so once a call has started on it nothing stops it from
// waiting for room (or data) halfway: such a wait blocks the worker. sendfile goes in
// pieces of 64 KiB on one to keep that short.
//
// sendfile to a blocking socket or pipe moves everything asked for (as the kernel does);
// the others return what one successful call moved, as the kernel does. copy_file_range
// works on regular files, which have no readiness: it runs on the blocking pool while the
// fiber waits, shielded (it moves file offsets: offload.hpp).
#include "io_gate.hpp"
#include "nowait.hpp"
#include "offload.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>

using weft::shim::in_fiber;

namespace {

using weft::rt::FdKind;

// The kind of fd that matters to the caller: in a fiber, what classify says; on a plain
// thread only `managed` matters (weft made it non-blocking underneath the thread, which
// must still see blocking calls), anything else is the thread's own business.
FdKind kind_here(int fd) noexcept {
  if (fd < 0) return FdKind::passthrough;
  if (in_fiber()) return weft::rt::classify_in_fiber(fd, weft::rt::fd_state(fd));
  const weft::rt::FdState* s = weft::rt::find_fd_state(fd);
  const bool managed = s != nullptr && s->kind.load(std::memory_order_acquire) == FdKind::managed;
  return managed ? FdKind::managed : FdKind::passthrough;
}

bool waitable(FdKind k) noexcept { return k == FdKind::managed || k == FdKind::borrowed; }

// Whether weft has anything to do for a call on these fds here.
bool emulated(int in, int out) noexcept { return waitable(kind_here(in)) || waitable(kind_here(out)); }

bool is_pipe(int fd) noexcept {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

// What the user set: the fcntl shim shows the user's O_NONBLOCK for either kind.
bool user_nonblocking(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) != 0;
}

// Waits until `in` is readable and `out` writable (either may be -1: not watched), parked
// in a fiber, blocked in poll on a plain thread. Returns
// true when both are, false with errno: EAGAIN if the one not ready is the user's
// non-blocking fd, or what the wait said (ECANCELED...).
bool wait_both_ready(int in, int out) noexcept {
  for (;;) {
    pollfd fds[2] = {{in, POLLIN, 0}, {out, POLLOUT, 0}};
    pollfd* lacking = nullptr;
    for (pollfd& p : fds) {
      if (p.fd < 0) continue;
      if (WEFT_REAL(poll)(&p, 1, 0) == 0) {
        lacking = &p;
        break;
      }
    }
    if (lacking == nullptr) return true;  // ready, or poll reports an error the call will
    if (user_nonblocking(lacking->fd)) {
      errno = EAGAIN;
      return false;
    }
    if (!weft::shim::wait_until_ready(lacking->fd, lacking->events)) return false;
  }
}

// One transfer in a fiber between `in` and `out`: attempt() is libc's call with
// SPLICE_F_NONBLOCK added where it takes one; can_wait says whether the arguments could
// make it wait at all (else it fails at once, and must not wait for readiness first).
// With a borrowed fd, whose call could block, readiness comes first; otherwise the call is
// tried first and the fiber waits only on EAGAIN.
template <class Attempt>
auto transfer(int in, int out, bool can_wait, Attempt attempt) noexcept -> decltype(attempt()) {
  if (!can_wait) return attempt();
  const FdKind in_kind = kind_here(in), out_kind = kind_here(out);
  const int watch_in = waitable(in_kind) ? in : -1, watch_out = waitable(out_kind) ? out : -1;
  const bool ready_first = in_kind == FdKind::borrowed || out_kind == FdKind::borrowed;
  for (;;) {
    if (ready_first && !wait_both_ready(watch_in, watch_out)) return -1;
    const auto r = attempt();
    if (r >= 0 || errno != EAGAIN) return r;
    if (!ready_first && !wait_both_ready(watch_in, watch_out)) return -1;
  }
}

}  // namespace

extern "C" {

ssize_t splice(int in, loff_t* off_in, int out, loff_t* off_out, size_t len, unsigned int flags) {
  if ((flags & SPLICE_F_NONBLOCK) != 0 || !emulated(in, out)) return WEFT_REAL(splice)(in, off_in, out, off_out, len, flags);
  const bool can_wait = is_pipe(in) || is_pipe(out);  // else EINVAL at once
  return transfer(in, out, can_wait,
                  [&] { return WEFT_REAL(splice)(in, off_in, out, off_out, len, flags | SPLICE_F_NONBLOCK); });
}

ssize_t tee(int in, int out, size_t len, unsigned int flags) {
  if ((flags & SPLICE_F_NONBLOCK) != 0 || !emulated(in, out)) return WEFT_REAL(tee)(in, out, len, flags);
  return transfer(in, out, is_pipe(in) && is_pipe(out), [&] { return WEFT_REAL(tee)(in, out, len, flags | SPLICE_F_NONBLOCK); });
}

ssize_t vmsplice(int out, const struct iovec* iov, size_t count, unsigned int flags) {
  if ((flags & SPLICE_F_NONBLOCK) != 0 || !emulated(-1, out)) return WEFT_REAL(vmsplice)(out, iov, count, flags);
  return transfer(-1, out, is_pipe(out), [&] { return WEFT_REAL(vmsplice)(out, iov, count, flags | SPLICE_F_NONBLOCK); });
}

ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
  const FdKind out_kind = kind_here(out);
  if (!waitable(out_kind)) return WEFT_REAL(sendfile)(out, in, offset, count);
  // On a borrowed fd nothing stops sendfile from waiting for room once it has started:
  // pieces the size of a socket buffer keep such waits short.
  const bool borrowed = out_kind == FdKind::borrowed;
  constexpr std::size_t kPiece = 64 * 1024;
  // As on a blocking fd, everything asked for goes, unless the file ends first.
  std::size_t done = 0;
  for (;;) {
    const std::size_t piece = borrowed && count - done > kPiece ? kPiece : count - done;
    const ssize_t r = transfer(-1, out, true, [&] { return WEFT_REAL(sendfile)(out, in, offset, piece); });
    if (r < 0) return done > 0 ? static_cast<ssize_t>(done) : r;
    done += static_cast<std::size_t>(r);
    if (r == 0 || done >= count || user_nonblocking(out)) return static_cast<ssize_t>(done);
  }
}

ssize_t sendfile64(int out, int in, off64_t* offset, size_t count) { return sendfile(out, in, offset, count); }

ssize_t copy_file_range(int in, off64_t* off_in, int out, off64_t* off_out, size_t len, unsigned int flags) {
  if (!in_fiber()) return WEFT_REAL(copy_file_range)(in, off_in, out, off_out, len, flags);
  return weft::shim::offload_blocking(
      [=] { return WEFT_REAL(copy_file_range)(in, off_in, out, off_out, len, flags); });
}

}  // extern "C"
