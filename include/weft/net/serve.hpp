// serve(): a fiber per connection, gevent's StreamServer for weft.
//
//   auto server = weft::net::serve(weft::net::TcpListener::bind({"0.0.0.0", 8080}),
//                                  [](weft::net::TcpStream& conn) { ...blocking code... });
//   ...
//   server.stop(5s);  // stop accepting, let handlers finish for up to 5 s, then cut
//
// The accept loop runs as a fiber; each connection's handler runs as a fiber of its own,
// spread round robin over the runtime's workers (a fiber never moves once started). The
// handler is shared by every connection, so it must be safe to call concurrently; the
// connection is closed when it returns.
#pragma once

#include <weft/deadline.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>

namespace weft::net {

struct ServeOptions {
  // Connections served at once; 0: no limit. At the limit the server stops accepting
  // until a handler returns, and new clients wait in the listen queue (gevent's pool).
  std::size_t max_connections = 0;
  // Called (in the handler's fiber) with what a handler threw, except disconnects
  // (is_disconnect), which are routine. Default: one line on stderr.
  std::function<void(std::exception_ptr, const SocketAddress& peer)> on_error{};
};

struct ServerStats {
  std::uint64_t accepted = 0;       // connections accepted so far
  std::size_t active = 0;           // handlers running now
  std::size_t peak_active = 0;      // most handlers running at once
  std::uint64_t handler_errors = 0; // handlers that threw something other than a disconnect
  std::uint64_t accept_backoffs = 0; // accept ran out of fds or memory, and waited
};

namespace detail {
class ServerCore;
}

// A running server. Move-only; destroying it stops the server at once (stop() with no
// grace) unless it was detached.
class [[nodiscard]] Server {
 public:
  Server(Server&&) noexcept = default;
  Server& operator=(Server&&) noexcept;
  ~Server();

  // Graceful stop: stops accepting; each handler's reads return what its client had sent
  // by now, then the end of the stream, so requests that reached the server are served
  // and handlers waiting for a new one return at once. At the deadline the connections
  // still open are shut both ways and their handlers are cancelled (<weft/cancel.hpp>),
  // so one waiting on anything, not only its socket, fails out at its wait. Returns once
  // every handler has returned (a handler that only computes is waited for) and the
  // listener is closed. Idempotent, from any fiber or thread; called by one of this
  // server's handlers, it waits for all the others.
  void stop(Deadline grace = std::chrono::seconds(10));
  // Waits until the server has stopped (by stop(), or because the listener failed:
  // then rethrows that error).
  void wait();
  // Lets the server run without this handle (until the process ends or the listener
  // fails); the handle is empty afterwards.
  void detach() noexcept;

  SocketAddress local_address() const;
  ServerStats stats() const;

  // For serve() itself.
  static Server adopt_core(std::shared_ptr<detail::ServerCore> core) noexcept { return Server(std::move(core)); }

 private:
  explicit Server(std::shared_ptr<detail::ServerCore> core) noexcept : core_(std::move(core)) {}
  detail::ServerCore& core() const;
  std::shared_ptr<detail::ServerCore> core_;
};

Server serve(TcpListener listener, std::function<void(TcpStream&)> handler, ServeOptions options = {});
Server serve(UnixListener listener, std::function<void(UnixStream&)> handler, ServeOptions options = {});

}  // namespace weft::net
