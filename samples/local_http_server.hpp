// A tiny HTTP/1.1 server on 127.0.0.1 for the tour: it answers every request with a fixed
// body after a fixed delay, like a slow remote site. It runs on plain threads (one per
// connection), where weft's shims are plain libc, so it is unaffected by the fibers it
// serves. Not a real server: one request per connection, no parsing beyond the headers' end.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

class LocalHttpServer {
 public:
  LocalHttpServer(std::string body, std::chrono::milliseconds delay)
      : body_(std::move(body)), delay_(delay) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 128) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("LocalHttpServer: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~LocalHttpServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);  // ends the blocked accept
    acceptor_.join();
    ::close(listener_);
    while (answering_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      const int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      answering_.fetch_add(1);
      std::thread([this, conn] {
        answer(conn);
        answering_.fetch_sub(1);
      }).detach();
    }
  }

  void answer(int conn) const {
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    std::this_thread::sleep_for(delay_);
    const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                 std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
    (void)::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(conn);
  }

  std::string body_;
  std::chrono::milliseconds delay_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> answering_{0};
  std::thread acceptor_;
};
