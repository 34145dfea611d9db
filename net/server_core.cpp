#include "server_core.hpp"

#include "read_cutoff.hpp"
#include "runtime.hpp"
#include "worker.hpp"

#include <weft/errors.hpp>
#include <weft/spawn.hpp>
#include <weft/this_fiber.hpp>

#include <cxxabi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <typeinfo>

namespace weft::net::detail {

using namespace std::chrono_literals;

namespace {

std::uint32_t generation_of(int fd) noexcept {
  return rt::fd_state(fd).generation.load(std::memory_order_acquire);
}

// accept4 failed because of this one connection (it was reset while queued, a firewall
// refused it): take the next.
bool connection_specific(int err) noexcept {
  return err == ECONNABORTED || err == EPROTO || err == EPERM || err == EINTR || err == ENETDOWN ||
         err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
         err == EOPNOTSUPP || err == ENETUNREACH;
}

// accept4 failed for want of a resource that returning handlers give back.
bool out_of_resources(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* name = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name != nullptr ? name : t.name();
  std::free(name);
  return out;
}

void report_to_stderr(const std::exception_ptr& e, const SocketAddress& peer) noexcept {
  std::string line = "weft::net::serve: the handler for " + (peer.empty() ? "a client" : peer.to_string()) + " threw ";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    line += type_name(typeid(x)) + ": " + x.what();
  } catch (...) {
    line += "a non-std::exception";
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

}  // namespace

ServerCore::ServerCore(Socket listener, std::string unlink_path, bool tcp, RunConnection run, ServeOptions options)
    : listener_(std::move(listener)),
      listener_fd_(listener_.fd()),
      listener_generation_(generation_of(listener_fd_)),
      unlink_path_(std::move(unlink_path)),
      tcp_(tcp),
      run_(std::move(run)),
      options_(std::move(options)),
      local_(listener_.local_address()),
      stopped_future_(stopped_.get_unfuture()) {}

void ServerCore::start() {
  accept_loop_ = spawn(FiberOptions{.name = "weft::net::serve accept loop"},
                       [self = shared_from_this()] { self->accept_loop(); });
}

void ServerCore::accept_loop() {
  const int fd = listener_fd_;
  io::Waiter waiter(fd, io::IoDir::read);
  std::chrono::milliseconds backoff{0};
  std::unique_lock lk(mu_);
  while (!stopping_) {
    if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
      nap_locked(lk);
      continue;
    }
    lk.unlock();
    const int conn = io::accept_managed(fd, nullptr, nullptr);
    const int err = errno;
    if (conn >= 0) {
      backoff = 0ms;
      start_connection(conn);
      lk.lock();
      continue;
    }
    if (err == EAGAIN) {
      try {
        waiter.wait(Deadline::none(), "weft::net::serve: accept");
      } catch (const std::system_error&) {
        lk.lock();
        if (!stopping_) failure_ = std::current_exception();
        break;
      }
      lk.lock();
      continue;
    }
    lk.lock();
    if (connection_specific(err)) continue;
    if (out_of_resources(err)) {
      ++stats_.accept_backoffs;
      backoff = std::clamp(backoff * 2, 5ms, 100ms);
      // At most once every 10 s: a busy server at its limit would say it per connection.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_backoff_report_ > 10s) {
        last_backoff_report_ = now;
        std::fprintf(stderr, "weft::net::serve: accept on %s: %s; backing off until descriptors free up\n",
                     local_.to_string().c_str(), std::generic_category().message(err).c_str());
      }
      // A plain sleep, not a nap a returning handler could cut short: while the process
      // is out of descriptors nothing here may need one (UBSan's vptr check, for one,
      // makes a pipe the first time it meets a type, and would fail). 100 ms at most
      // keeps recovery and stop() prompt at ten accept4 calls a second.
      lk.unlock();
      sleep_for(backoff);
      lk.lock();
      continue;
    }
    // The listener itself is broken (EBADF, EINVAL, ENOTSOCK): stop() shut it, or the
    // user closed it; only the latter is news.
    if (!stopping_) {
      failure_ = std::make_exception_ptr(std::system_error(err, std::generic_category(), "weft::net::serve: accept"));
    }
    break;
  }
  lk.unlock();
  listener_.close();
  if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
  lk.lock();
  accept_ended_ = true;
  note_progress_locked();
}

void ServerCore::start_connection(int fd) {
  if (tcp_) {
    const int one = 1;
    WEFT_REAL(setsockopt)(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  std::unique_lock lk(mu_);
  const std::uint64_t id = next_id_++;
  connections_.emplace(id, Connection{fd, generation_of(fd), nullptr});
  ++stats_.accepted;
  stats_.peak_active = std::max(stats_.peak_active, connections_.size());
  // Accepted while stop() was ending the others' reads: it is served like them.
  if (stopping_) io::end_reads_if_current(fd, connections_.at(id).generation);
  const unsigned ticket = next_ticket_++;
  const std::uint32_t generation = connections_.at(id).generation;
  lk.unlock();
  try {
    auto task = weft::detail::make_task([self = shared_from_this(), id, fd] { self->serve_connection(id, fd); });
    lk.lock();  // the entry is there: only this handler's own fiber, not started yet, erases it
    connections_.at(id).task = task;
    const bool cut = cut_;
    lk.unlock();
    rt::place_fiber(task, rt::Placement::spread(ticket));
    if (cut) (void)weft::detail::cancel_task(*task);
  } catch (...) {
    if (lk.owns_lock()) lk.unlock();
    // No memory for the fiber: this client is dropped, the server goes on.
    report_to_stderr(std::current_exception(), SocketAddress());
    lk.lock();
    connections_.erase(id);
    ++stats_.handler_errors;
    note_progress_locked();
    lk.unlock();
    io::close_fd(fd);
    io::forget_read_cutoff(fd, generation);
  }
}

void ServerCore::serve_connection(std::uint64_t id, int fd) {
  {
    std::lock_guard lk(mu_);
    connections_.at(id).fiber = rt::Worker::current_fiber();
  }
  run_(*this, fd);  // closes fd, reports what the handler threw
  std::lock_guard lk(mu_);
  io::forget_read_cutoff(fd, connections_.at(id).generation);
  connections_.erase(id);
  note_progress_locked();
}

void ServerCore::handler_failed(std::exception_ptr e, const Stream& conn) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const weft::cancelled_error&) {
    return;  // stop() cut it at the end of its grace, or someone else asked it to end
  } catch (const std::system_error& x) {
    if (is_disconnect(x)) return;
  } catch (...) {
  }
  {
    std::lock_guard lk(mu_);
    ++stats_.handler_errors;
  }
  SocketAddress peer;
  try {
    peer = conn.peer_address();
  } catch (const std::system_error&) {
    // gone already: reported without its address
  }
  if (!options_.on_error) {
    report_to_stderr(e, peer);
    return;
  }
  try {
    options_.on_error(e, peer);
  } catch (...) {
    report_to_stderr(std::current_exception(), peer);
  }
}

void ServerCore::nap_locked(std::unique_lock<std::mutex>& lk) {
  Promise<void> wake;
  Unfuture<void> woken = wake.get_unfuture();
  nap_ = &wake;
  lk.unlock();
  woken.wait();
  lk.lock();
  nap_ = nullptr;
}

void ServerCore::wake_nap_locked() noexcept {
  if (nap_ != nullptr) {
    nap_->set_value();
    nap_ = nullptr;
  }
}

void ServerCore::note_progress_locked() noexcept {
  wake_nap_locked();
  const std::size_t active = connections_.size();
  std::erase_if(drain_waiters_, [&](const DrainWaiter& w) {
    if (active > w.at_most) return false;
    w.promise->set_value();
    return true;
  });
  if (accept_ended_ && active == 0 && !stopped_future_.ready()) stopped_.set_value();
}

bool ServerCore::drain_locked(std::unique_lock<std::mutex>& lk, std::size_t n, Deadline until) {
  if (connections_.size() <= n) return true;
  Promise<void> drained;
  Unfuture<void> done = drained.get_unfuture();
  drain_waiters_.push_back({n, &drained});
  lk.unlock();
  const bool in_time = done.wait_until(until.time());
  lk.lock();
  // Gone from the list if it was set, whether or not in time.
  std::erase_if(drain_waiters_, [&](const DrainWaiter& w) { return w.promise == &drained; });
  return in_time || connections_.size() <= n;
}

void ServerCore::shut_all_locked(int how) noexcept {
  for (const auto& [id, c] : connections_) rt::shutdown_if_current(c.fd, c.generation, how);
}

void ServerCore::stop(Deadline grace) {
  boost::fibers::context* me = rt::Worker::current_fiber();
  std::unique_lock lk(mu_);
  // A handler may stop its own server; it waits for the others, not for itself.
  const bool from_handler = me != nullptr && std::any_of(connections_.begin(), connections_.end(),
                                                         [&](const auto& kv) { return kv.second.fiber == me; });
  if (!std::exchange(stopping_, true)) {
    wake_nap_locked();
    rt::shutdown_if_current(listener_fd_, listener_generation_, SHUT_RD);
    for (const auto& [id, c] : connections_) io::end_reads_if_current(c.fd, c.generation);
  }
  lk.unlock();
  accept_loop_.wait();
  lk.lock();
  const std::size_t others = from_handler ? 1 : 0;
  if (!drain_locked(lk, others, grace)) {
    // The grace is over: cut the connections, and cancel the handlers, so that one
    // waiting on anything else (a database, a sleep, another fiber) ends too.
    cut_ = true;
    shut_all_locked(SHUT_RDWR);
    std::vector<boost::intrusive_ptr<weft::detail::StateBase>> handlers;
    for (const auto& [id, c] : connections_) {
      if (c.task && c.fiber != me) handlers.push_back(c.task);
    }
    lk.unlock();
    for (auto& task : handlers) (void)weft::detail::cancel_task(*task);
    lk.lock();
    drain_locked(lk, others, Deadline::none());
  }
}

void ServerCore::wait() {
  stopped_future_.wait();
  std::lock_guard lk(mu_);
  if (failure_) std::rethrow_exception(failure_);
}

ServerStats ServerCore::stats() const {
  std::lock_guard lk(mu_);
  ServerStats s = stats_;
  s.active = connections_.size();
  return s;
}

}  // namespace weft::net::detail
