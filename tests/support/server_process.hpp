// Real servers (redis-server, postgres) for the client tests (tests/clients), run as child
// processes of the test program on 127.0.0.1 and stopped by their PID when the test ends,
// passes or fails. Everything here runs on the test's plain thread, where weft's shims are
// libc's own calls.
//
// A child is started through setpriv(1) (util-linux, always on Debian), which execs it in
// place (the PID stays the server's) after setting PR_SET_PDEATHSIG: a test killed by the
// CTest timeout takes its servers with it instead of leaving them running.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace weft_test {

// Raises this process's RLIMIT_NOFILE soft limit to the hard limit (children inherit it),
// and the hard limit to `at_least` if it is lower (which takes root), and returns the soft
// limit now in force.
inline rlim_t raise_fd_limit(rlim_t at_least = 0) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < at_least) {
    rlimit more{at_least, at_least};
    if (::setrlimit(RLIMIT_NOFILE, &more) == 0) lim = more;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &lim);
    (void)::getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  if (port < 0) throw std::runtime_error("free_port: bind failed");
  return port;
}

// Whether something accepts TCP connections on 127.0.0.1:port.
inline bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A directory under /tmp, removed with its contents when this goes away.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string templ = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The account a server that refuses to run as root (postgres) runs as: when this process
// is root, `name`; otherwise none (the server runs as this process's user).
struct RunAs {
  std::string user;  // empty: as this process
  uid_t uid = 0;
  gid_t gid = 0;
};

inline RunAs run_as_if_root(const std::string& name) {
  if (::geteuid() != 0) return {};
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) throw std::runtime_error("running as root, and there is no user " + name);
  return RunAs{name, pw->pw_uid, pw->pw_gid};
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process started from an argument vector, its stdout and stderr in `log_path`.
// The destructor stops it (stop_signal, then SIGKILL after a grace period) by its PID.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> argv, std::filesystem::path log_path,
                int stop_signal = SIGTERM, const RunAs& as = {})
      : log_path_(std::move(log_path)), stop_signal_(stop_signal) {
    std::vector<std::string> full = {"setpriv"};
    if (!as.user.empty()) {
      full.push_back("--reuid=" + std::to_string(as.uid));
      full.push_back("--regid=" + std::to_string(as.gid));
      full.push_back("--clear-groups");
    }
    full.insert(full.end(), {"--pdeathsig", "KILL", "--"});
    full.insert(full.end(), argv.begin(), argv.end());
    description_ = join(argv);
    pid_ = spawn(full, log_path_);
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& description() const { return description_; }
  std::string log() const { return read_text(log_path_); }

  // False once the child has ended (it is reaped then).
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Waits until `ready()` is true; false if the child ended or the deadline passed first.
  template <class Ready>
  bool wait_until_ready(Ready ready, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (!running()) return false;
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Sends stop_signal, waits up to `grace` for the child to end, then SIGKILLs it.
  // Returns true if it ended within the grace period.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    if (pid_ <= 0) return true;
    ::kill(pid_, stop_signal_);
    const auto until = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return false;
  }

  // Runs argv (as `as`) to completion within `deadline`, output in log_path; returns its
  // exit status, or -1 if it was killed at the deadline or died of a signal.
  static int run(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
                 std::chrono::milliseconds deadline, const RunAs& as = {}) {
    ServerProcess p(argv, log_path, SIGKILL, as);
    const auto until = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(p.pid_, &status, WNOHANG) == p.pid_) {
        p.pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;  // ~ServerProcess kills it
  }

 private:
  static std::string join(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
    return s;
  }

  static pid_t spawn(std::vector<std::string> argv, const std::filesystem::path& log_path) {
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot create " + log_path.string());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log, 1);
    posix_spawn_file_actions_adddup2(&actions, log, 2);
    // Signals as a fresh process has them, whatever the test's threads blocked.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    ::close(log);
    if (rc != 0) throw std::runtime_error(std::string("posix_spawnp ") + args[0] + ": " + std::strerror(rc));
    return pid;
  }

  std::filesystem::path log_path_;
  int stop_signal_;
  std::string description_;
  pid_t pid_ = -1;
};

// A server on 127.0.0.1 and a port that was free a moment ago: another process may take the
// port before the server binds it, so up to three tries on fresh ports, a failed one
// stopped by PID. `argv_for(port)` gives the command, `ready(port)` says when it serves.
struct ServerOnPort {
  std::unique_ptr<ServerProcess> process;  // null when every try failed
  int port = 0;
  std::string failed_log;  // the last failed try's output
};

template <class ArgvFor, class Ready>
ServerOnPort start_on_free_port(ArgvFor argv_for, const std::filesystem::path& log_path, int stop_signal,
                                const RunAs& as, Ready ready, std::chrono::milliseconds deadline) {
  ServerOnPort s;
  for (int attempt = 0; attempt < 3 && !s.process; ++attempt) {
    s.port = free_port();
    s.process = std::make_unique<ServerProcess>(argv_for(s.port), log_path, stop_signal, as);
    if (!s.process->wait_until_ready([&] { return ready(s.port); }, deadline)) {
      s.failed_log = s.process->log();
      s.process.reset();
    }
  }
  return s;
}

}  // namespace weft_test
