// A slow HTTP/1.1 server inside the test process, for clients in fibers to wait on: one
// plain thread accepts on 127.0.0.1 (an ephemeral port) and one plain thread per
// connection reads a request, sleeps `delay`, then answers 200 with a Content-Length body
// and closes. Plain threads make libc's calls through weft's shims unchanged, so the
// server blocks as any server would and is unaffected by the fibers it serves.
//
// The body for path P is body_for(P): about 100 KiB that names P, so a client has to read
// it in several pieces and a mix-up between connections shows.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace weft_test {

class SlowHttpServer {
 public:
  explicit SlowHttpServer(std::chrono::milliseconds delay) : delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("SlowHttpServer: socket failed");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 1024) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("SlowHttpServer: bind/listen failed");
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~SlowHttpServer() {
    stopping_.store(true);
    ::shutdown(listen_fd_, SHUT_RDWR);  // accept() fails with EINVAL from now on
    acceptor_.join();
    std::vector<std::thread> conns;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      conns.swap(connections_);
    }
    for (auto& t : conns) t.join();
    ::close(listen_fd_);
  }
  SlowHttpServer(const SlowHttpServer&) = delete;
  SlowHttpServer& operator=(const SlowHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Requests answered so far, and the most that were being delayed at the same time.
  int answered() const { return answered_.load(); }
  int peak_in_flight() const { return peak_.load(); }

  static std::string body_for(const std::string& path) {
    std::string line = "weft slow body for " + path + "\n";
    std::string body;
    while (body.size() < 100 * 1024) body += line;
    return body;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_.load()) return;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    // A client that stalls cannot keep the destructor from joining this thread.
    const timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return;
      }
      request.append(buf, static_cast<std::size_t>(n));
    }
    // "GET /path HTTP/1.1"
    const auto sp1 = request.find(' ');
    const auto sp2 = request.find(' ', sp1 + 1);
    const std::string method = request.substr(0, sp1);
    const std::string path = sp1 == std::string::npos || sp2 == std::string::npos
                                 ? std::string("/")
                                 : request.substr(sp1 + 1, sp2 - sp1 - 1);
    const int now = in_flight_.fetch_add(1) + 1;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    std::this_thread::sleep_for(delay_);
    in_flight_.fetch_sub(1);

    std::string response;
    if (method == "GET") {
      const std::string body = body_for(path);
      response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    } else {
      response = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
    std::size_t done = 0;
    while (done < response.size()) {
      const ssize_t n = ::write(fd, response.data() + done, response.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (done == response.size()) answered_.fetch_add(1);
    // Let the client read to the end before the close (no RST over unread data).
    ::shutdown(fd, SHUT_WR);
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ::close(fd);
  }

  std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_{0};
  std::atomic<int> answered_{0};
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace weft_test
