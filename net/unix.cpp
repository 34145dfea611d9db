// UnixStream and UnixListener.
#include "io.hpp"

#include <weft/net/unix.hpp>

#include <unistd.h>

#include <string>

namespace weft::net {

using io::IoDir;

UnixStream UnixStream::connect(std::string_view path, Deadline deadline) {
  const SocketAddress addr = SocketAddress::unix_path(path);
  UnixStream s(io::open_socket(AF_UNIX, SOCK_STREAM, 0, "weft::net::UnixStream::connect"));
  const std::string what = "weft::net::UnixStream::connect(\"" + std::string(path) + "\")";
  io::connect(s.fd(), addr.data(), addr.size(), deadline, what.c_str());
  return s;
}

std::pair<UnixStream, UnixStream> UnixStream::pair() {
  int fds[2];
  if (WEFT_REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    io::throw_errno(errno, "weft::net::UnixStream::pair");
  }
  io::adopt_socket(fds[0]);
  io::adopt_socket(fds[1]);
  return {UnixStream(fds[0]), UnixStream(fds[1])};
}

UnixStream UnixStream::adopt(int fd) {
  Socket s = Socket::adopt(fd);
  return UnixStream(s.release());
}

UnixListener UnixListener::bind(std::string_view path, int backlog) {
  const SocketAddress addr = SocketAddress::unix_path(path);
  const std::string what = "weft::net::UnixListener::bind(\"" + std::string(path) + "\")";
  UnixListener l(io::open_socket(AF_UNIX, SOCK_STREAM, 0, what.c_str()), "");
  if (::bind(l.fd(), addr.data(), addr.size()) != 0) io::throw_errno(errno, what.c_str());
  if (path.front() != '@') l.path_ = std::string(path);  // ours to remove from now on
  if (::listen(l.fd(), backlog) != 0) io::throw_errno(errno, what.c_str());
  return l;
}

UnixListener& UnixListener::operator=(UnixListener&& other) noexcept {
  if (this != &other) {
    close();
    Socket::operator=(std::move(other));
    path_ = std::exchange(other.path_, std::string());
  }
  return *this;
}

void UnixListener::close() noexcept {
  if (!path_.empty()) ::unlink(std::exchange(path_, std::string()).c_str());
  Socket::close();
}

UnixStream UnixListener::accept(Deadline deadline) {
  const int accepted = io::retry(fd(), IoDir::read, deadline, "weft::net::UnixListener::accept", [&] {
    return io::accept_managed(fd(), nullptr, nullptr);
  });
  return UnixStream(accepted);
}

}  // namespace weft::net
