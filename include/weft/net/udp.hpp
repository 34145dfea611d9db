// UDP sockets.
#pragma once

#include <weft/net/socket.hpp>

#include <cstddef>

namespace weft::net {

struct Datagram {
  std::size_t size = 0;    // bytes stored in the buffer
  SocketAddress from;      // the sender
  bool truncated = false;  // the datagram was longer than the buffer (the rest is lost)
};

class UdpSocket : public Socket {
 public:
  UdpSocket() noexcept = default;
  // An unbound socket (the kernel picks a port at the first send).
  static UdpSocket open(int family = AF_INET);
  // A socket bound to addr (port 0: any free port). Throws std::system_error.
  static UdpSocket bind(const SocketAddress& addr);

  // Sends to this peer by default, and receives from it only.
  void connect(const SocketAddress& peer);

  // One datagram. Waits only while the send buffer is full. Throws std::system_error
  // (EMSGSIZE for a datagram too long, ECONNREFUSED after an ICMP error, ...).
  void send_to(const void* data, std::size_t size, const SocketAddress& to, Deadline deadline = {});
  void send(const void* data, std::size_t size, Deadline deadline = {});
  // Waits for one datagram.
  Datagram receive_from(void* into, std::size_t size, Deadline deadline = {});
  std::size_t receive(void* into, std::size_t size, Deadline deadline = {});

 private:
  explicit UdpSocket(int managed_fd) noexcept : Socket(managed_fd) {}
};

}  // namespace weft::net
