// Socket addresses and name resolution.
#pragma once

#include <weft/deadline.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weft::net {

// An IPv4, IPv6 or Unix-domain socket address, held by value.
class SocketAddress {
 public:
  // The empty address (family AF_UNSPEC).
  SocketAddress() noexcept = default;
  // A numeric IPv4 or IPv6 address and a port: {"127.0.0.1", 8080}, {"::1", 8080}.
  // Throws std::invalid_argument if `ip` is not a numeric address (names go to resolve()).
  SocketAddress(std::string_view ip, std::uint16_t port);
  // "127.0.0.1:8080" or "[::1]:8080". Throws std::invalid_argument.
  static SocketAddress parse(std::string_view ip_and_port);
  // A Unix-domain path; a leading '@' names an abstract socket (Linux). Throws
  // std::invalid_argument if the path does not fit in sockaddr_un.
  static SocketAddress unix_path(std::string_view path);
  // Copies what the kernel returned. Throws std::invalid_argument if it is too long.
  static SocketAddress from(const sockaddr* addr, socklen_t size);

  int family() const noexcept { return storage_.ss_family; }
  bool empty() const noexcept { return family() == AF_UNSPEC; }
  // The port (IP families), else 0.
  std::uint16_t port() const noexcept;
  // The numeric address without the port ("::1"), or the path of a Unix address.
  std::string host() const;
  // "127.0.0.1:8080", "[::1]:8080", "/run/x.sock", "@abstract", "" for the empty address.
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// The addresses `host` (a name or a numeric address) resolves to, with `port`, for stream
// sockets, in getaddrinfo's order (which follows /etc/gai.conf); `family` may restrict to
// AF_INET or AF_INET6. Honours /etc/hosts. In a fiber the lookup runs on the blocking
// pool, so other fibers go on meanwhile.
// Throws resolve_error (EAI_NONAME for an unknown name, ...) or timeout_error; a lookup
// that times out goes on in the pool and its answer is dropped.
std::vector<SocketAddress> resolve(std::string_view host, std::uint16_t port,
                                   Deadline deadline = {}, int family = AF_UNSPEC);

}  // namespace weft::net
