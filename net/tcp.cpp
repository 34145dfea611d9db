// TcpStream and TcpListener.
#include "io.hpp"

#include <weft/net/tcp.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <optional>
#include <string>

namespace weft::net {

using io::IoDir;

namespace {

// The same exception type, with the address in its message. A cancel or a Timeout that
// stopped the call is passed on as it is: its handlers catch it by type.
[[noreturn]] void rethrow_for(const SocketAddress& addr) {
  const std::string where = " (" + addr.to_string() + ")";
  try {
    throw;
  } catch (const timeout_error& e) {
    throw timeout_error(e.what() + where);
  } catch (const weft::timeout_error&) {
    throw;
  } catch (const weft::cancelled_error&) {
    throw;
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), std::string(e.what()) + where);
  }
}

}  // namespace

TcpStream TcpStream::connect(const SocketAddress& addr, Deadline deadline) {
  try {
    TcpStream s(io::open_socket(addr.family(), SOCK_STREAM, 0, "weft::net::TcpStream::connect"));
    io::connect(s.fd(), addr.data(), addr.size(), deadline, "weft::net::TcpStream::connect");
    s.set_nodelay(true);
    return s;
  } catch (const std::system_error&) {
    rethrow_for(addr);
  }
}

TcpStream TcpStream::connect(std::string_view host, std::uint16_t port, Deadline deadline) {
  const std::vector<SocketAddress> candidates = resolve(host, port, deadline);
  std::exception_ptr last;
  for (const SocketAddress& addr : candidates) {
    try {
      return connect(addr, deadline);
    } catch (const weft::timeout_error&) {
      throw;  // the deadline (or a Timeout) covers every address: none is left for the next
    } catch (const weft::cancelled_error&) {
      throw;
    } catch (const std::system_error&) {
      last = std::current_exception();
    }
  }
  std::rethrow_exception(last);  // resolve() never returns an empty list
}

TcpStream TcpStream::adopt(int fd) {
  Socket s = Socket::adopt(fd);
  return TcpStream(s.release());
}

void TcpStream::set_nodelay(bool on) { set_option(IPPROTO_TCP, TCP_NODELAY, int{on}); }

TcpListener TcpListener::bind(const SocketAddress& addr, ListenOptions options) {
  try {
    TcpListener l(io::open_socket(addr.family(), SOCK_STREAM, 0, "weft::net::TcpListener::bind"));
    if (options.reuse_address) l.set_option(SOL_SOCKET, SO_REUSEADDR, int{1});
    if (options.reuse_port) l.set_option(SOL_SOCKET, SO_REUSEPORT, int{1});
    if (::bind(l.fd(), addr.data(), addr.size()) != 0) io::throw_errno(errno, "weft::net::TcpListener::bind");
    if (::listen(l.fd(), options.backlog) != 0) io::throw_errno(errno, "weft::net::TcpListener::bind: listen");
    return l;
  } catch (const std::system_error&) {
    rethrow_for(addr);
  }
}

TcpStream TcpListener::accept(Deadline deadline, SocketAddress* peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int accepted = io::retry(fd(), IoDir::read, deadline, "weft::net::TcpListener::accept", [&] {
    len = sizeof ss;
    return io::accept_managed(fd(), reinterpret_cast<sockaddr*>(&ss), &len);
  });
  TcpStream s(accepted);
  s.set_nodelay(true);
  if (peer != nullptr) *peer = SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
  return s;
}

}  // namespace weft::net
