// Reading a regular file in a fiber without stalling its worker on the disk (issue 16,
// item 5). The kernel has no readiness for files, but it can be asked to read only what
// needs no wait: preadv2 with RWF_NOWAIT gives what the page cache holds, or EAGAIN. So:
// - all of it cached (the common case): the fiber reads it on the worker, at the cost of
//   libc's read;
// - some or none of it: the rest is read on the blocking pool while the fiber parks,
//   shielded (the read moves the file offset, so it must finish: offload.hpp). A short
//   answer from the cache is never returned as the read's result, since libc's read of a
//   regular file is short only at its end.
// Files that refuse RWF_NOWAIT are read on the worker, as libc does. Writes stay on the
// worker: ext4 refuses RWF_NOWAIT for buffered writes, and they seldom wait (the page
// cache takes them), so a pool hop for each would cost more than it saves.
#pragma once

#include "libc.hpp"
#include "offload.hpp"

#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>

namespace weft::shim {

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
  const ssize_t rest = offload_blocking([&read_rest, done] { return read_rest(done); });
  if (rest < 0) return done > 0 ? static_cast<ssize_t>(done) : rest;
  return static_cast<ssize_t>(done) + rest;
}

}  // namespace weft::shim
