#include "worker_process.hpp"

#include "cancel.hpp"

#include "start_hook.hpp"
#include "wire.hpp"

#include "io_wait.hpp"
#include "libc.hpp"
#include "reactor_backend.hpp"
#include "worker.hpp"

#include <weft/net/errors.hpp>
#include <weft/process.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weft::rt::process {

namespace {

// Without a pidfd, how often a wait on the channel looks whether the process has ended.
constexpr std::int64_t kNoPidfdCheckNs = 100'000'000;

[[noreturn]] void fail_start(const std::string& why) {
  throw process_error(process_errc::start_failed, "weft::spawn_process: " + why);
}

// This program's environment with the worker's two variables set (and any stale ones out).
std::vector<std::string> worker_environment(int parent) {
  std::vector<std::string> env;
  const std::string worker_prefix = std::string(kWorkerEnv) + "=";
  const std::string parent_prefix = std::string(kParentEnv) + "=";
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with(worker_prefix) || entry.starts_with(parent_prefix)) continue;
    env.emplace_back(entry);
  }
  env.push_back(worker_prefix + std::to_string(kChannelFd));
  env.push_back(parent_prefix + std::to_string(parent));
  return env;
}

// Spawns the worker with `child_end` as its fd kChannelFd and nothing else of ours open.
// posix_spawn (vfork and exec) is safe in a process with threads, unlike fork.
pid_t spawn_copy(int child_end) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, child_end, kChannelFd);  // clears FD_CLOEXEC
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, kChannelFd + 1);
  // The calling thread may block signals (a server waiting in sigwait); the worker must
  // not inherit that. Ignored signals stay ignored, as across any exec (nohup).
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> env = worker_environment(::getpid());
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char* argv[] = {program_invocation_name, nullptr};

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) fail_start(std::string("cannot start a worker process: ") + std::strerror(rc));
  return pid;
}

}  // namespace

std::string Ending::describe() const {
  if (!known) return "ended (its exit status was collected by someone else)";
  if (signal != 0) {
    const char* abbrev = ::sigabbrev_np(signal);
    return "was killed by signal " + std::to_string(signal) + " (SIG" + (abbrev ? abbrev : "?") +
           ", " + ::strsignal(signal) + ")";
  }
  return "exited with status " + std::to_string(exit_status);
}

WorkerProcess::WorkerProcess(pid_t pid, int pidfd, net::UnixStream channel)
    : pid_(pid), pidfd_(pidfd), channel_(std::move(channel)) {}

WorkerProcess::WorkerProcess(WorkerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      channel_(std::move(other.channel_)),
      read_watch_(std::exchange(other.read_watch_, -1)),
      write_watch_(std::exchange(other.write_watch_, -1)) {}

WorkerProcess::~WorkerProcess() {
  if (pid_ > 0) end(std::chrono::milliseconds(0));
}

WorkerProcess WorkerProcess::start(Deadline ready_by) {
  if (!started_through_hook()) {
    fail_start(
        "this program did not start through weft's entry (libweft was loaded by dlopen or by "
        "a library, not linked into the executable), so a copy of it would run main again "
        "instead of serving tasks. Link weft into the executable.");
  }
  int fds[2];
  if (WEFT_REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    fail_start(std::string("socketpair: ") + std::strerror(errno));
  }
  pid_t pid = -1;
  try {
    pid = spawn_copy(fds[1]);
  } catch (...) {
    WEFT_REAL(close)(fds[0]);
    WEFT_REAL(close)(fds[1]);
    throw;
  }
  WEFT_REAL(close)(fds[1]);
  // Without pidfds (Linux < 5.3) end() polls waitpid instead.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  WorkerProcess worker(pid, pidfd, net::UnixStream::adopt(fds[0]));
  if (!worker.watch()) fail_start(std::string("cannot watch a worker process: ") + std::strerror(errno));

  FrameHeader hello{};
  try {
    worker.read_exact(&hello, sizeof hello, ready_by);
  } catch (const net::timeout_error&) {
    fail_start("worker process " + std::to_string(pid) + " did not get ready in time; killed");
  } catch (const std::system_error&) {  // unexpected_eof or a reset: it is gone
    const Ending ending = worker.end(std::chrono::seconds(5));
    fail_start("worker process " + std::to_string(pid) + " " + ending.describe() +
               " before it was ready");
  }
  if (hello.magic != kFrameMagic || hello.kind != FrameKind::hello || hello.size != 0 ||
      hello.sender != pid) {
    fail_start("worker process " + std::to_string(pid) + " sent garbage instead of its hello");
  }
  return worker;
}

bool WorkerProcess::watch() noexcept {
  const int channel = channel_.fd();
  struct Watch {
    int* set;
    std::uint32_t channel_events;
  };
  for (const Watch& w : {Watch{&read_watch_, EPOLLIN | EPOLLRDHUP}, Watch{&write_watch_, EPOLLOUT}}) {
    int* set = w.set;
    *set = ::epoll_create1(EPOLL_CLOEXEC);
    if (*set < 0) return false;
    epoll_event on_channel{};
    on_channel.events = w.channel_events;
    on_channel.data.fd = channel;
    epoll_event on_end{};
    on_end.events = EPOLLIN;
    on_end.data.fd = pidfd_;
    if (::epoll_ctl(*set, EPOLL_CTL_ADD, channel, &on_channel) != 0 ||
        (pidfd_ >= 0 && ::epoll_ctl(*set, EPOLL_CTL_ADD, pidfd_, &on_end) != 0)) {
      return false;
    }
    // Not made by a shim: weft learns of it here, as a pollable fd it did not set up.
    rt::adopt_fd(*set, /*managed=*/false, /*user_nonblock=*/false, /*is_socket=*/false);
  }
  return true;
}

void WorkerProcess::close_watches() noexcept {
  for (int* set : {&read_watch_, &write_watch_}) {
    if (*set < 0) continue;
    rt::retire_fd(*set);  // a later fd with this number must not inherit its registration
    WEFT_REAL(close)(*set);
    *set = -1;
  }
}

bool WorkerProcess::ended() noexcept {
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    return WEFT_REAL(poll)(&p, 1, 0) > 0;
  }
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return true;  // ECHILD: nothing left to wait for
  }
  return info.si_pid != 0;
}

void WorkerProcess::wait_on(int watch, Deadline deadline) {
  if (deadline.passed()) throw net::timeout_error("weft: worker process: deadline passed");
  std::int64_t until = deadline.monotonic_ns();
  if (pidfd_ < 0) {
    const std::int64_t soon = rt::monotonic_ns() + kNoPidfdCheckNs;
    if (until < 0 || until > soon) until = soon;
  }
  rt::IoWait outcome;
  if (rt::Worker::current_fiber() != nullptr) {
    rt::FdState& s = rt::fd_state(watch);
    outcome = rt::park_on_fd(watch, s, s.generation.load(std::memory_order_acquire), rt::IoDir::read, until);
  } else {
    outcome = rt::block_on_fd(watch, rt::IoDir::read, until);
  }
  if (outcome == rt::IoWait::failed) throw std::system_error(errno, std::generic_category(), "weft: worker process: waiting");
  if (outcome == rt::IoWait::cancelled) rt::throw_cancelled();  // the caller ends the task's worker process
  // ready, timed out (a slice or the deadline, which the caller's next wait_on tells
  // apart), interrupted: the caller tries its call again.
}

void WorkerProcess::read_exact(void* into, std::size_t size, Deadline deadline) {
  char* at = static_cast<char*>(into);
  bool woken = false;  // a wake-up that brought nothing may be the process's end
  while (size > 0) {
    const ssize_t n = WEFT_REAL(recv)(channel_.fd(), at, size, MSG_DONTWAIT);
    if (n > 0) {
      at += n;
      size -= static_cast<std::size_t>(n);
      woken = false;
      continue;
    }
    if (n == 0) throw net::unexpected_eof("weft: worker process: end of its channel");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "weft: worker process: reading");
    // Read everything the worker wrote before it ended, then no more: a process it forked
    // may hold the channel open, and no end of file will come.
    if ((woken || pidfd_ < 0) && ended()) {
      throw std::system_error(ESRCH, std::generic_category(), "weft: worker process ended");
    }
    wait_on(read_watch_, deadline);
    woken = true;
  }
}

void WorkerProcess::write_all(std::string_view bytes, Deadline deadline) {
  bool woken = false;
  while (!bytes.empty()) {
    const ssize_t n = WEFT_REAL(send)(channel_.fd(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      woken = false;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "weft: worker process: writing");
    if ((woken || pidfd_ < 0) && ended()) {
      throw std::system_error(ESRCH, std::generic_category(), "weft: worker process ended");
    }
    wait_on(write_watch_, deadline);
    woken = true;
  }
}

bool WorkerProcess::looks_gone() noexcept {
  pollfd p[2] = {{channel_.fd(), POLLIN, 0}, {pidfd_, POLLIN, 0}};
  if (WEFT_REAL(poll)(p, pidfd_ >= 0 ? 2 : 1, 0) != 0) return true;
  return pidfd_ < 0 && ended();
}

bool WorkerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(timeout.count()));  // a fiber parks on the reactor
    } while (n < 0 && errno == EINTR);
    return n > 0;
  }
  // No pidfd: look every few milliseconds, without reaping.
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      return true;  // ECHILD: nothing left to wait for
    }
    if (info.si_pid != 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the shim yields a fiber
  }
}

Ending WorkerProcess::end(std::chrono::milliseconds grace) {
  Ending ending;
  if (pid_ <= 0) return ending;
  if (!wait_exit(grace)) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(60));
  }
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) {
    ending.known = false;
  } else if (WIFSIGNALED(status)) {
    ending.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    ending.exit_status = WEXITSTATUS(status);
  }
  // Through the close shim: poll() registered this fd with the reactor, and a later pidfd
  // with the same number must not inherit that registration.
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
  close_watches();
  channel_.close();
  return ending;
}

}  // namespace weft::rt::process
