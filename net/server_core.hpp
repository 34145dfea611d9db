// What a running serve() is: the accept loop, the table of open connections, and the
// stop protocol. Server (include/weft/net/serve.hpp) is a handle to one of these.
//
// The accept loop is a fiber. It tries accept4 first and parks on the listener only on
// EAGAIN; each connection gets a fiber of its own, posted round robin to the workers.
// When accept runs out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the
// connection stays in the kernel's queue and the loop sleeps for a back-off doubling from
// 5 ms to 100 ms before it tries again (Go's net/http does the same, up to 1 s), so it
// never spins. At max_connections it naps until a handler returns.
//
// stop() shuts the listener for reading (which wakes the parked accept loop: TCP answers
// EINVAL, Unix-domain sockets report readable) and ends every connection's reads
// (io::end_reads_if_current, read_cutoff.hpp): a handler reads what its client had sent
// by then and then the end of the stream, so a request that reached the server is
// answered and no new one is started; the kernel would go on delivering bytes after a
// plain shutdown(SHUT_RD), and a busy keep-alive client would never let its handler go. At the deadline the
// connections left are shut both ways. Both go through the fd's generation, so a number a
// handler closed and the process reused is never touched.
#pragma once

#include "io.hpp"

#include <weft/net/serve.hpp>
#include <weft/promise.hpp>

#include <boost/fiber/context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::net::detail {

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  // Runs a handler on a new connection: owns fd, reports through handler_failed().
  using RunConnection = std::function<void(ServerCore&, int fd)>;

  ServerCore(Socket listener, std::string unlink_path, bool tcp, RunConnection run, ServeOptions options);
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  void start();
  void stop(Deadline grace);
  void wait();
  ServerStats stats() const;
  const SocketAddress& local_address() const noexcept { return local_; }

  // A handler threw: report it unless it is a disconnect.
  void handler_failed(std::exception_ptr e, const Stream& conn) noexcept;

 private:
  struct Connection {
    int fd;
    std::uint32_t generation;
    boost::fibers::context* fiber;  // the handler's, once it runs
    boost::intrusive_ptr<weft::detail::StateBase> task = {};  // its fiber's work, to cancel at the cut
  };
  struct DrainWaiter {
    std::size_t at_most;
    Promise<void>* promise;
  };

  void accept_loop();
  void start_connection(int fd);
  void serve_connection(std::uint64_t id, int fd);
  // At max_connections: waits, with mu_ held on entry and exit, until a handler returns
  // or stop() is called.
  void nap_locked(std::unique_lock<std::mutex>& lk);
  // Waits until at most n handlers run; false if the deadline passed first.
  bool drain_locked(std::unique_lock<std::mutex>& lk, std::size_t n, Deadline until);
  void shut_all_locked(int how) noexcept;
  void wake_nap_locked() noexcept;
  void note_progress_locked() noexcept;  // a handler ended or the accept loop did

  Socket listener_;             // closed by the accept loop as it ends
  const int listener_fd_;       // its number, for stop(), which may run meanwhile
  const std::uint32_t listener_generation_;
  std::string unlink_path_;
  const bool tcp_;
  const RunConnection run_;
  const ServeOptions options_;
  const SocketAddress local_;

  // Held only for bookkeeping, never across a wait (waits drop it): a std::mutex is
  // fine for the few instructions it guards, and works from fibers and threads alike.
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Connection> connections_;
  std::uint64_t next_id_ = 0;
  unsigned next_ticket_ = 0;  // connections are dealt out to the workers in turn (rt::place_fiber)
  ServerStats stats_;
  bool stopping_ = false;  // stop() was called
  bool cut_ = false;       // stop()'s grace is over: handlers still running are cancelled
  bool accept_ended_ = false;
  // When accept's running out of descriptors was last reported (by the accept loop only).
  std::chrono::steady_clock::time_point last_backoff_report_{};
  std::exception_ptr failure_;
  Promise<void>* nap_ = nullptr;
  std::vector<DrainWaiter> drain_waiters_;
  Promise<void> stopped_;  // set once the accept loop and every handler have ended
  Unfuture<void> stopped_future_;
  Unfuture<void> accept_loop_;
};

}  // namespace weft::net::detail
