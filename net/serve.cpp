// serve() and the Server handle.
#include "server_core.hpp"
#include "stream_factory.hpp"

#include <chrono>

namespace weft::net {

namespace {

template <class S>
detail::ServerCore::RunConnection run_with(std::function<void(S&)> handler) {
  return [handler = std::move(handler)](detail::ServerCore& core, int fd) {
    S conn = detail::StreamFactory::from_managed_fd<S>(fd);
    try {
      handler(conn);
    } catch (...) {
      core.handler_failed(std::current_exception(), conn);
    }
  };
}

Server start(std::shared_ptr<detail::ServerCore> core) {
  core->start();
  return Server::adopt_core(std::move(core));
}

}  // namespace

Server serve(TcpListener listener, std::function<void(TcpStream&)> handler, ServeOptions options) {
  if (!listener.is_open()) throw std::invalid_argument("weft::net::serve: the listener is not open");
  if (!handler) throw std::invalid_argument("weft::net::serve: no handler");
  Socket s = std::move(listener);
  return start(std::make_shared<detail::ServerCore>(std::move(s), std::string(), /*tcp=*/true,
                                                    run_with(std::move(handler)), std::move(options)));
}

Server serve(UnixListener listener, std::function<void(UnixStream&)> handler, ServeOptions options) {
  if (!listener.is_open()) throw std::invalid_argument("weft::net::serve: the listener is not open");
  if (!handler) throw std::invalid_argument("weft::net::serve: no handler");
  std::string path = listener.release_path();
  Socket s = std::move(listener);
  return start(std::make_shared<detail::ServerCore>(std::move(s), std::move(path), /*tcp=*/false,
                                                    run_with(std::move(handler)), std::move(options)));
}

Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    Server old(std::move(*this));  // stops the server this handle had, as it goes
    core_ = std::move(other.core_);
  }
  return *this;
}

Server::~Server() {
  if (!core_) return;
  try {
    core_->stop(std::chrono::seconds(0));
  } catch (...) {
    // Only a broken runtime could make stop() throw; the destructor must not.
  }
}

void Server::stop(Deadline grace) { core().stop(grace); }
void Server::wait() { core().wait(); }
void Server::detach() noexcept { core_.reset(); }
SocketAddress Server::local_address() const { return core().local_address(); }
ServerStats Server::stats() const { return core().stats(); }

detail::ServerCore& Server::core() const {
  if (!core_) throw std::logic_error("weft::net::Server: empty (moved from or detached)");
  return *core_;
}

}  // namespace weft::net
