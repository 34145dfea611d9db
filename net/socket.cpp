// Socket (ownership, options, addresses) and Stream (reads and writes with deadlines).
#include "io.hpp"
#include "read_cutoff.hpp"

#include <weft/net/socket.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace weft::net {

using io::IoDir;

Socket Socket::adopt(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) io::throw_errno(errno, "weft::net::Socket::adopt");
  if (!S_ISSOCK(st.st_mode)) io::throw_errno(ENOTSOCK, "weft::net::Socket::adopt");
  const int flags = WEFT_REAL(fcntl)(fd, F_GETFL);
  if (flags < 0 || ((flags & O_NONBLOCK) == 0 && WEFT_REAL(fcntl)(fd, F_SETFL, flags | O_NONBLOCK) != 0)) {
    io::throw_errno(errno, "weft::net::Socket::adopt");
  }
  io::adopt_socket(fd);
  return Socket(fd);
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_.store(other.release(), std::memory_order_relaxed);
  }
  return *this;
}

int Socket::release() noexcept { return fd_.exchange(-1, std::memory_order_relaxed); }

void Socket::close() noexcept { io::close_fd(fd_.exchange(-1, std::memory_order_relaxed)); }

namespace {

// getsockname or getpeername as a SocketAddress.
SocketAddress address_of(int fd, int (*get)(int, sockaddr*, socklen_t*), const char* what) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (get(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) io::throw_errno(errno, what);
  return SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace

SocketAddress Socket::local_address() const {
  return address_of(fd(), ::getsockname, "weft::net::Socket::local_address");
}

void Socket::set_option_bytes(int level, int name, const void* value, std::size_t size) {
  if (::setsockopt(fd(), level, name, value, static_cast<socklen_t>(size)) != 0) {
    io::throw_errno(errno, "weft::net::Socket::set_option");
  }
}

void Socket::get_option_bytes(int level, int name, void* value, std::size_t size) const {
  auto len = static_cast<socklen_t>(size);
  if (::getsockopt(fd(), level, name, value, &len) != 0) {
    io::throw_errno(errno, "weft::net::Socket::get_option");
  }
}

std::size_t Stream::read(void* into, std::size_t size, Deadline deadline) {
  static constexpr const char* what = "weft::net::Stream::read";
  io::Waiter waiter(fd(), IoDir::read);
  rt::FdState* const s = waiter.state();
  for (;;) {
    // A graceful stop of serve() lets this stream take what was queued then, no more.
    std::size_t want = size;
    const std::int64_t cutoff = s != nullptr ? io::read_cutoff(fd(), *s) : -1;
    if (cutoff == 0) return 0;
    if (cutoff > 0) want = std::min(size, static_cast<std::size_t>(cutoff));
    // Always the kernel first, even right after a short read: one edge of the reactor can
    // stand for data and the end of the stream together, and a read stops short at an
    // urgent mark or a message carrying fds, so a short read does not prove that nothing
    // more is readable. (Waiting first saved no measurable CPU in http_hello either.)
    const ssize_t r = WEFT_REAL(recv)(fd(), into, want, 0);
    if (r >= 0) {
      if (cutoff > 0) io::take_from_read_cutoff(fd(), *s, static_cast<std::size_t>(r));
      return static_cast<std::size_t>(r);
    }
    if (errno != EAGAIN) io::throw_errno(errno, what);
    waiter.wait(deadline, what);
  }
}

void Stream::read_exact(void* into, std::size_t size, Deadline deadline) {
  auto* at = static_cast<char*>(into);
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = read(at + done, size - done, deadline);
    if (n == 0) {
      throw unexpected_eof("weft::net::Stream::read_exact: the stream ended after " +
                           std::to_string(done) + " of " + std::to_string(size) + " bytes");
    }
    done += n;
  }
}

std::size_t Stream::write(const void* from, std::size_t size, Deadline deadline) {
  // MSG_NOSIGNAL: a peer that is gone is an EPIPE exception, not a dead process.
  const ssize_t r = io::retry(fd(), IoDir::write, deadline, "weft::net::Stream::write",
                              [&] { return WEFT_REAL(send)(fd(), from, size, MSG_NOSIGNAL); });
  return static_cast<std::size_t>(r);
}

void Stream::write_all(const void* from, std::size_t size, Deadline deadline) {
  static constexpr const char* what = "weft::net::Stream::write_all";
  const auto* at = static_cast<const char*>(from);
  io::Waiter waiter(fd(), IoDir::write);
  for (std::size_t done = 0; done < size;) {
    const ssize_t r = WEFT_REAL(send)(fd(), at + done, size - done, MSG_NOSIGNAL);
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (errno != EAGAIN) io::throw_errno(errno, what);
    waiter.wait(deadline, what);
  }
}

void Stream::shutdown(ShutdownHow how) {
  const int h = how == ShutdownHow::read ? SHUT_RD : how == ShutdownHow::write ? SHUT_WR : SHUT_RDWR;
  if (WEFT_REAL(shutdown)(fd(), h) != 0) io::throw_errno(errno, "weft::net::Stream::shutdown");
}

SocketAddress Stream::peer_address() const {
  return address_of(fd(), ::getpeername, "weft::net::Stream::peer_address");
}

}  // namespace weft::net
