// TCP: connecting streams and listening sockets.
#pragma once

#include <weft/net/socket.hpp>

#include <cstdint>
#include <string_view>

namespace weft::net {

class TcpListener;

class TcpStream : public Stream {
 public:
  TcpStream() noexcept = default;
  // Connects to addr, within the deadline. TCP_NODELAY is set, as Go does: the programs
  // weft is for write whole messages, and Nagle's delay would only add latency.
  // Throws std::system_error (ECONNREFUSED, ENETUNREACH, ...) or timeout_error.
  static TcpStream connect(const SocketAddress& addr, Deadline deadline = {});
  // Resolves host and tries its addresses in turn until one answers, all within the
  // deadline. Throws the last address's error, resolve_error or timeout_error.
  static TcpStream connect(std::string_view host, std::uint16_t port, Deadline deadline = {});
  // Takes ownership of a connected TCP socket made elsewhere (see Socket::adopt).
  static TcpStream adopt(int fd);

  void set_nodelay(bool on);

 private:
  friend class TcpListener;  // accept() makes streams of the fds it gets
  friend struct detail::StreamFactory;
  explicit TcpStream(int managed_fd) noexcept : Stream(managed_fd) {}
};

struct ListenOptions {
  // The accept queue's length (the kernel caps it at net.core.somaxconn).
  int backlog = 4096;
  // SO_REUSEADDR: rebind at once after a restart, despite connections in TIME_WAIT.
  bool reuse_address = true;
  // SO_REUSEPORT: several listeners on one port, the kernel spreading connections.
  bool reuse_port = false;
};

class TcpListener : public Socket {
 public:
  TcpListener() noexcept = default;
  // Binds and listens. Port 0 picks a free port (see local_address()). Throws
  // std::system_error (EADDRINUSE, EACCES, ...).
  static TcpListener bind(const SocketAddress& addr, ListenOptions options = {});

  // The next connection, with TCP_NODELAY set; `peer`, if given, gets its address.
  // Throws timeout_error, or std::system_error: EMFILE/ENFILE when out of descriptors
  // (the connection stays queued: retry later), EBADF if the listener is closed meanwhile.
  TcpStream accept(Deadline deadline = {}, SocketAddress* peer = nullptr);

 private:
  explicit TcpListener(int managed_fd) noexcept : Socket(managed_fd) {}
};

}  // namespace weft::net
