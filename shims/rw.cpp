// read, write and their socket and vector forms. Reads return what the first successful
// try gives, as the kernel does; writes to a blocking fd continue after partial writes
// until all is written, as the kernel does (io_gate.hpp). On a borrowed fd each try is
// made non-blocking by itself (nowait.hpp). A regular file's reads take what the page
// cache holds and read the rest off the worker; its big writes, and those the kernel says
// would wait, are made off the worker too (file_io.hpp).
#include "fiber_sleep.hpp"
#include "file_io.hpp"
#include "io_gate.hpp"
#include "iov_tail.hpp"
#include "nowait.hpp"

#include <cstdlib>
#include <cstring>

using weft::shim::IoDir;
using weft::shim::io_all;
using weft::shim::io_call;

namespace {

int with_dontwait(int flags, bool nowait) noexcept { return nowait ? flags | MSG_DONTWAIT : flags; }

// MSG_WAITALL means "all of it" only on a stream socket; a datagram or seqpacket socket
// gives one message whatever the flag says, so continuing after it would merge messages.
bool waits_for_all(int fd, int flags) noexcept {
  if ((flags & MSG_WAITALL) == 0) return false;
  int type = 0;
  socklen_t len = sizeof type;
  return WEFT_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// Descriptors that arrive in SCM_RIGHTS take numbers that were free, so whatever weft
// recorded under them belongs to a file closed behind its back by a raw close(2) (UBSan's
// vptr check closes a pipe() that way) and must go: a stale "managed" would have the next
// read trust an O_NONBLOCK the new file does not have, and block the worker.
void forget_received_fds(const msghdr* msg) noexcept {
  if (msg == nullptr || msg->msg_control == nullptr || msg->msg_controllen < sizeof(cmsghdr)) return;
  auto* m = const_cast<msghdr*>(msg);
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      weft::rt::retire_fd(fd);
    }
  }
}

ssize_t receive_message(int fd, struct msghdr* msg, int flags) {
  if ((flags & MSG_DONTWAIT) != 0) return WEFT_REAL(recvmsg)(fd, msg, flags);
  if (msg == nullptr || msg->msg_iovlen > 0x7fffffff || !waits_for_all(fd, flags)) {
    return io_call(fd, IoDir::read,
                   [&](bool nowait) { return WEFT_REAL(recvmsg)(fd, msg, with_dontwait(flags, nowait)); });
  }
  // MSG_WAITALL on a stream socket: the kernel fills every buffer (short only at the end
  // of the stream, on an error or a timeout), so continue after a short read as it would.
  const int iovcnt = static_cast<int>(msg->msg_iovlen);
  weft::shim::IovTail tail(msg->msg_iov, iovcnt);
  return io_all(fd, IoDir::read, weft::shim::iov_total(msg->msg_iov, iovcnt), [&](std::size_t done, bool nowait) {
    if (done == 0) return WEFT_REAL(recvmsg)(fd, msg, with_dontwait(flags, nowait));
    // The sender's address and any control data came with the first part.
    msghdr rest{};
    const iovec* iov;
    int count;
    tail.after(done, &iov, &count);
    rest.msg_iov = const_cast<iovec*>(iov);
    rest.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t r = WEFT_REAL(recvmsg)(fd, &rest, with_dontwait(flags, nowait));
    if (r >= 0) msg->msg_flags |= rest.msg_flags;
    return r;
  });
}

// recvmmsg as the kernel runs it on a blocking socket: it waits for each message in turn
// until vlen have come (MSG_WAITFORONE: until the first), checking `timeout` only after
// each message; an error after some messages returns their count.
int receive_messages(int fd, struct mmsghdr* vec, unsigned int vlen, int flags, struct timespec* timeout) {
  weft::shim::IoGate gate(fd, IoDir::read);
  if ((flags & MSG_DONTWAIT) != 0 || vec == nullptr || vlen == 0 || gate.passthrough() ||
      (timeout != nullptr && !weft::shim::valid_timespec(*timeout))) {
    return WEFT_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
  }
  const std::int64_t deadline =
      timeout != nullptr ? weft::shim::deadline_after(*timeout, weft::rt::monotonic_ns()) : -1;
  unsigned int got = 0;
  const auto finish = [&](int r) {
    if (timeout != nullptr && deadline >= 0) {
      std::int64_t left = deadline - weft::rt::monotonic_ns();
      if (left < 0) left = 0;
      *timeout = timespec{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    }
    return got > 0 ? static_cast<int>(got) : r;
  };
  for (;;) {
    const int r = WEFT_REAL(recvmmsg)(fd, vec + got, vlen - got, with_dontwait(flags, gate.nowait()), nullptr);
    if (r > 0) {
      got += static_cast<unsigned int>(r);
      const bool expired = deadline >= 0 && weft::rt::monotonic_ns() >= deadline;
      if (got == vlen || (flags & MSG_WAITFORONE) != 0 || expired) return finish(r);
      continue;
    }
    if (r == 0 || errno != EAGAIN || !gate.wait()) return finish(r);
  }
}

}  // namespace

extern "C" {

ssize_t read(int fd, void* buf, size_t n) {
  weft::shim::IoGate gate(fd, IoDir::read);
  if (gate.file()) {
    return weft::shim::read_file_off_worker(fd, buf, n, -1, [&](std::size_t done) {
      return WEFT_REAL(read)(fd, static_cast<char*>(buf) + done, n - done);
    });
  }
  return io_call(gate, [&](bool nowait) {
    return nowait ? weft::shim::read_nowait(fd, buf, n) : WEFT_REAL(read)(fd, buf, n);
  });
}

// pread of a regular file in a fiber reads what is not cached off the worker, as read
// does; on anything else it is libc's (ESPIPE for pipes and sockets).
ssize_t pread(int fd, void* buf, size_t n, off_t offset) {
  if (offset < 0 || !weft::shim::in_fiber()) return WEFT_REAL(pread)(fd, buf, n, offset);
  weft::shim::IoGate gate(fd, IoDir::read);
  if (!gate.file()) return WEFT_REAL(pread)(fd, buf, n, offset);
  return weft::shim::read_file_off_worker(fd, buf, n, offset, [&](std::size_t done) {
    return WEFT_REAL(pread)(fd, static_cast<char*>(buf) + done, n - done, offset + static_cast<off_t>(done));
  });
}

ssize_t pread64(int fd, void* buf, size_t n, off64_t offset) { return pread(fd, buf, n, offset); }

// pwrite of a regular file in a fiber: as write (file_io.hpp); libc's everywhere else.
ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  if (offset < 0 || !weft::shim::in_fiber()) return WEFT_REAL(pwrite)(fd, buf, n, offset);
  weft::shim::IoGate gate(fd, IoDir::write);
  if (!gate.file()) return WEFT_REAL(pwrite)(fd, buf, n, offset);
  return weft::shim::write_file_off_worker(fd, buf, n, offset, [&](std::size_t done) {
    return WEFT_REAL(pwrite)(fd, static_cast<const char*>(buf) + done, n - done, offset + static_cast<off_t>(done));
  });
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) { return pwrite(fd, buf, n, offset); }

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  return io_call(fd, IoDir::read, [&](bool nowait) {
    return nowait ? weft::shim::transfer_nowait(fd, iov, iovcnt, false) : WEFT_REAL(readv)(fd, iov, iovcnt);
  });
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* len) {
  auto once = [&](std::size_t done, bool nowait) {
    return WEFT_REAL(recvfrom)(fd, static_cast<char*>(buf) + done, n - done, with_dontwait(flags, nowait), addr, len);
  };
  if ((flags & MSG_DONTWAIT) != 0) return once(0, false);
  if (waits_for_all(fd, flags)) return io_all(fd, IoDir::read, n, once);
  return io_call(fd, IoDir::read, [&](bool nowait) { return once(0, nowait); });
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  return recvfrom(fd, buf, n, flags, nullptr, nullptr);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  const ssize_t r = receive_message(fd, msg, flags);
  if (r >= 0) forget_received_fds(msg);
  return r;
}

ssize_t write(int fd, const void* buf, size_t n) {
  weft::shim::IoGate gate(fd, IoDir::write);
  if (gate.file()) {
    return weft::shim::write_file_off_worker(fd, buf, n, -1, [&](std::size_t done) {
      return WEFT_REAL(write)(fd, static_cast<const char*>(buf) + done, n - done);
    });
  }
  return io_all(gate, n, [&](std::size_t done, bool nowait) {
    const char* from = static_cast<const char*>(buf) + done;
    return nowait ? weft::shim::write_nowait(fd, from, n - done) : WEFT_REAL(write)(fd, from, n - done);
  });
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (iovcnt < 0) return WEFT_REAL(writev)(fd, iov, iovcnt);  // EINVAL, as libc says
  weft::shim::IovTail tail(iov, iovcnt);
  return io_all(fd, IoDir::write, weft::shim::iov_total(iov, iovcnt), [&](std::size_t done, bool nowait) {
    const iovec* rest;
    int count;
    tail.after(done, &rest, &count);
    return nowait ? weft::shim::transfer_nowait(fd, rest, count, true) : WEFT_REAL(writev)(fd, rest, count);
  });
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
               socklen_t len) {
  auto once = [&](std::size_t done, bool nowait) {
    return WEFT_REAL(sendto)(fd, static_cast<const char*>(buf) + done, n - done, with_dontwait(flags, nowait), addr, len);
  };
  if ((flags & MSG_DONTWAIT) != 0) return once(0, false);
  return io_all(fd, IoDir::write, n, once);
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  return sendto(fd, buf, n, flags, nullptr, 0);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if ((flags & MSG_DONTWAIT) != 0 || msg == nullptr || msg->msg_iovlen > 0x7fffffff) {
    return WEFT_REAL(sendmsg)(fd, msg, flags);
  }
  const int iovcnt = static_cast<int>(msg->msg_iovlen);
  weft::shim::IovTail tail(msg->msg_iov, iovcnt);
  return io_all(fd, IoDir::write, weft::shim::iov_total(msg->msg_iov, iovcnt), [&](std::size_t done, bool nowait) {
    if (done == 0) return WEFT_REAL(sendmsg)(fd, msg, with_dontwait(flags, nowait));
    // The control data (fds, credentials) went with the first part.
    msghdr rest = *msg;
    const iovec* iov;
    int count;
    tail.after(done, &iov, &count);
    rest.msg_iov = const_cast<iovec*>(iov);
    rest.msg_iovlen = static_cast<std::size_t>(count);
    rest.msg_control = nullptr;
    rest.msg_controllen = 0;
    return WEFT_REAL(sendmsg)(fd, &rest, with_dontwait(flags, nowait));
  });
}

int recvmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags, struct timespec* timeout) {
  const int r = receive_messages(fd, vec, vlen, flags, timeout);
  for (int i = 0; i < r; ++i) forget_received_fds(&vec[i].msg_hdr);
  return r;
}

// sendmmsg as on a blocking socket: every message is sent, each waiting for room in turn;
// an error after some messages returns their count.
int sendmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags) {
  weft::shim::IoGate gate(fd, IoDir::write);
  if ((flags & MSG_DONTWAIT) != 0 || vec == nullptr || vlen == 0 || gate.passthrough()) {
    return WEFT_REAL(sendmmsg)(fd, vec, vlen, flags);
  }
  unsigned int sent = 0;
  for (;;) {
    const int r = WEFT_REAL(sendmmsg)(fd, vec + sent, vlen - sent, with_dontwait(flags, gate.nowait()));
    if (r > 0) {
      sent += static_cast<unsigned int>(r);
      if (sent == vlen || !gate.emulating_blocking()) return static_cast<int>(sent);
      continue;
    }
    if (r == 0 || errno != EAGAIN || !gate.wait()) return sent > 0 ? static_cast<int>(sent) : r;
  }
}

// _FORTIFY_SOURCE entry points: glibc's check, then the shim.

ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) __chk_fail();
  return read(fd, buf, n);
}

ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) __chk_fail();
  return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                       struct sockaddr* addr, socklen_t* len) {
  if (n > buflen) __chk_fail();
  return recvfrom(fd, buf, n, flags, addr, len);
}

}  // extern "C"
