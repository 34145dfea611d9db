// UdpSocket.
#include "io.hpp"

#include <weft/net/udp.hpp>

#include <algorithm>

namespace weft::net {

using io::IoDir;

UdpSocket UdpSocket::open(int family) {
  return UdpSocket(io::open_socket(family, SOCK_DGRAM, 0, "weft::net::UdpSocket::open"));
}

UdpSocket UdpSocket::bind(const SocketAddress& addr) {
  UdpSocket s = open(addr.family());
  if (::bind(s.fd(), addr.data(), addr.size()) != 0) {
    io::throw_errno(errno, ("weft::net::UdpSocket::bind " + addr.to_string()).c_str());
  }
  return s;
}

void UdpSocket::connect(const SocketAddress& peer) {
  // Connecting a datagram socket only records the peer: it never waits.
  if (WEFT_REAL(connect)(fd(), peer.data(), peer.size()) != 0) {
    io::throw_errno(errno, ("weft::net::UdpSocket::connect " + peer.to_string()).c_str());
  }
}

void UdpSocket::send_to(const void* data, std::size_t size, const SocketAddress& to, Deadline deadline) {
  io::retry(fd(), IoDir::write, deadline, "weft::net::UdpSocket::send_to",
            [&] { return WEFT_REAL(sendto)(fd(), data, size, MSG_NOSIGNAL, to.data(), to.size()); });
}

void UdpSocket::send(const void* data, std::size_t size, Deadline deadline) {
  io::retry(fd(), IoDir::write, deadline, "weft::net::UdpSocket::send",
            [&] { return WEFT_REAL(send)(fd(), data, size, MSG_NOSIGNAL); });
}

Datagram UdpSocket::receive_from(void* into, std::size_t size, Deadline deadline) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  // MSG_TRUNC: the datagram's own length comes back, so a truncation is seen.
  const ssize_t r = io::retry(fd(), IoDir::read, deadline, "weft::net::UdpSocket::receive_from", [&] {
    len = sizeof ss;
    return WEFT_REAL(recvfrom)(fd(), into, size, MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
  });
  Datagram d;
  d.size = std::min(static_cast<std::size_t>(r), size);
  d.truncated = static_cast<std::size_t>(r) > size;
  d.from = SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
  return d;
}

std::size_t UdpSocket::receive(void* into, std::size_t size, Deadline deadline) {
  const ssize_t r = io::retry(fd(), IoDir::read, deadline, "weft::net::UdpSocket::receive",
                              [&] { return WEFT_REAL(recv)(fd(), into, size, 0); });
  return static_cast<std::size_t>(r);
}

}  // namespace weft::net
