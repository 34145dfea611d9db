// SocketAddress (numeric addresses only: names go through resolve()).
#include <weft/net/address.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace weft::net {

namespace {

[[noreturn]] void bad(std::string_view what, std::string_view input) {
  throw std::invalid_argument("weft::net::SocketAddress: " + std::string(what) + ": \"" +
                              std::string(input) + "\"");
}

}  // namespace

SocketAddress::SocketAddress(std::string_view ip, std::uint16_t port) {
  // inet_pton wants a terminated string, and an address is short.
  char text[INET6_ADDRSTRLEN + 1];
  if (ip.size() >= sizeof text) bad("not a numeric IP address", ip);
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage_);
  if (::inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    size_ = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    size_ = sizeof(sockaddr_in6);
  } else {
    storage_ = {};
    bad("not a numeric IP address", ip);
  }
}

SocketAddress SocketAddress::parse(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) bad("no port", text);
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    bad("an IPv6 address needs brackets", text);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() || port > 65535) {
    bad("bad port", text);
  }
  return SocketAddress(host, static_cast<std::uint16_t>(port));
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
  SocketAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  const bool abstract = !path.empty() && path.front() == '@';
  // A path needs its terminating NUL; an abstract name's leading NUL takes the '@''s place.
  if (path.empty() || path.size() + (abstract ? 0 : 1) > sizeof un->sun_path) {
    bad("Unix socket path empty or too long", path);
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  if (abstract) un->sun_path[0] = '\0';
  a.size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return a;
}

SocketAddress SocketAddress::from(const sockaddr* addr, socklen_t size) {
  SocketAddress a;
  if (size > sizeof a.storage_) throw std::invalid_argument("weft::net::SocketAddress::from: too long");
  std::memcpy(&a.storage_, addr, size);
  a.size_ = size;
  return a;
}

std::uint16_t SocketAddress::port() const noexcept {
  switch (family()) {
    case AF_INET: return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6: return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default: return 0;
  }
}

std::string SocketAddress::host() const {
  char text[INET6_ADDRSTRLEN] = "";
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text, sizeof text);
      return text;
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text, sizeof text);
      return text;
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      const std::size_t offset = offsetof(sockaddr_un, sun_path);
      if (size_ <= offset) return "";  // an unnamed socket (one end of a pair, a client)
      std::string path(un->sun_path, size_ - offset);
      if (path[0] == '\0') {
        path[0] = '@';
      } else if (const auto nul = path.find('\0'); nul != std::string::npos) {
        path.resize(nul);
      }
      return path;
    }
    default: return "";
  }
}

std::string SocketAddress::to_string() const {
  switch (family()) {
    case AF_INET: return host() + ":" + std::to_string(port());
    case AF_INET6: return "[" + host() + "]:" + std::to_string(port());
    default: return host();
  }
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.size_ == b.size_ && std::memcmp(&a.storage_, &b.storage_, a.size_) == 0;
}

}  // namespace weft::net
