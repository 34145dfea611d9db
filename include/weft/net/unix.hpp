// Unix-domain stream sockets.
#pragma once

#include <weft/net/socket.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace weft::net {

class UnixListener;

class UnixStream : public Stream {
 public:
  UnixStream() noexcept = default;
  // Connects to the socket at path ('@' first: an abstract name), waiting within the
  // deadline while the listener's queue is full. Throws std::system_error (ENOENT,
  // ECONNREFUSED, ...) or timeout_error.
  static UnixStream connect(std::string_view path, Deadline deadline = {});
  // Two connected streams (socketpair).
  static std::pair<UnixStream, UnixStream> pair();
  static UnixStream adopt(int fd);

 private:
  friend class UnixListener;
  friend struct detail::StreamFactory;
  explicit UnixStream(int managed_fd) noexcept : Stream(managed_fd) {}
};

class UnixListener : public Socket {
 public:
  UnixListener() noexcept = default;
  // Binds to path and listens. A path that exists is an error (EADDRINUSE), as in
  // libc; the listener removes the file it made when it is closed (as Go's does).
  static UnixListener bind(std::string_view path, int backlog = 4096);

  UnixListener(UnixListener&& other) noexcept
      : Socket(std::move(other)), path_(std::exchange(other.path_, std::string())) {}
  UnixListener& operator=(UnixListener&& other) noexcept;
  ~UnixListener() { close(); }
  void close() noexcept;

  UnixStream accept(Deadline deadline = {});

  // Hands over the duty to remove the socket file (for serve(), which closes the
  // listener later); empty for an abstract name.
  std::string release_path() noexcept { return std::exchange(path_, std::string()); }

 private:
  UnixListener(int managed_fd, std::string path) noexcept : Socket(managed_fd), path_(std::move(path)) {}
  std::string path_;  // the file to remove, empty for an abstract name
};

}  // namespace weft::net
