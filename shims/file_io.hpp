// Reading a regular file in a fiber without stalling its worker on the disk (issue 16,
// item 5). The kernel has no readiness for files, but it can be asked to read only what
// needs no wait: preadv2 with RWF_NOWAIT gives what the page cache holds, or EAGAIN. So:
// - all of it cached (the common case): the fiber reads it on the worker, at the cost of
//   libc's read;
// - some or none of it: the rest is read on the blocking pool while the fiber parks,
//   shielded (the read moves the file offset, so it must finish: offload.hpp). A short
//   answer from the cache is never returned as the read's result, since libc's read of a
//   regular file is short only at its end.
// Files that refuse RWF_NOWAIT are read on the worker, as libc does.
//
// Writes (write, pwrite) ask the same way, pwritev2 with RWF_NOWAIT: what the kernel
// takes without waiting is written on the worker, the rest on the pool. But many file
// systems cannot say (ext4 and tmpfs answer EOPNOTSUPP to every buffered RWF_NOWAIT
// write, as on this project's machines), and there a write's size decides: a small one is
// a copy into the page cache and stays on the worker, where a pool hop would cost more
// than the copy; from kWriteOffWorkerBytes up it goes to the pool, since its copy alone
// stalls the worker for a while (10 us a page when the pages are new) and big writes are
// what the kernel throttles when write-back lags. A refusal is remembered per fd.
#pragma once

#include "fd_table.hpp"
#include "libc.hpp"
#include "offload.hpp"

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>

namespace weft::shim {

// The rest of a read or write after `done` bytes, rest(done), on the pool while the fiber
// parks; shielded (it moves the file offset, and a write the file, so it must finish:
// offload.hpp). What was done counts even if the rest fails, as in a short read or write.
template <class Rest>
ssize_t finish_off_worker(std::size_t done, Rest& rest) noexcept {
  const ssize_t more = offload_blocking([&rest, done] { return rest(done); });
  if (more < 0) return done > 0 ? static_cast<ssize_t>(done) : more;
  return static_cast<ssize_t>(done) + more;
}

// read() or pread() of [buf, buf + n) at `offset` (-1: the file's own offset, moved).
// read_rest(done) reads what is left after `done` bytes the way the caller asked (read,
// or pread at offset + done), blocking.
template <class ReadRest>
ssize_t read_file_off_worker(int fd, void* buf, std::size_t n, off_t offset, ReadRest read_rest) noexcept {
  const iovec all{buf, n};
  const ssize_t cached = ::preadv2(fd, &all, 1, offset, RWF_NOWAIT);
  if (cached < 0 && errno != EAGAIN) {
    // EOPNOTSUPP: this file system cannot say; anything else: libc's read reports it.
    return read_rest(0);
  }
  const std::size_t done = cached > 0 ? static_cast<std::size_t>(cached) : 0;
  if (cached == 0 || done == n) return cached;  // the end of the file, or all of it
  return finish_off_worker(done, read_rest);
}

// A write of this many bytes or more to a file that cannot answer RWF_NOWAIT runs on the
// blocking pool (see the top of this file).
inline constexpr std::size_t kWriteOffWorkerBytes = 256 * 1024;

// write() or pwrite() of [buf, buf + n) at `offset` (-1: the file's own offset, moved; an
// O_APPEND file appends either way, as the kernel does). write_rest(done) writes what is
// left after `done` bytes the way the caller asked, blocking.
template <class WriteRest>
ssize_t write_file_off_worker(int fd, const void* buf, std::size_t n, off_t offset, WriteRest write_rest) noexcept {
  rt::FdState* s = rt::find_fd_state(fd);
  std::size_t done = 0;
  if (s != nullptr && !s->write_nowait_refused.load(std::memory_order_relaxed)) {
    const iovec all{const_cast<void*>(buf), n};
    const ssize_t now = ::pwritev2(fd, &all, 1, offset, RWF_NOWAIT);
    if (now >= 0 && static_cast<std::size_t>(now) == n) return now;
    if (now < 0 && errno == EOPNOTSUPP) {
      s->write_nowait_refused.store(true, std::memory_order_relaxed);
    } else if (now < 0 && errno != EAGAIN) {
      return write_rest(0);  // libc's error (EBADF, ENOSPC, EFBIG...): a failed write wrote nothing
    } else {
      done = now > 0 ? static_cast<std::size_t>(now) : 0;
      return finish_off_worker(done, write_rest);
    }
  }
  if (n < kWriteOffWorkerBytes) return write_rest(0);
  return finish_off_worker(0, write_rest);
}

}  // namespace weft::shim
