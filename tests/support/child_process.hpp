// Runs tests/support/weft_test_child.cpp (WEFT_TEST_CHILD), or any program, as a child
// process with extra environment variables, under a deadline, and collects how it ended and
// what it printed. For behaviour that needs a fresh process: the runtime reads its settings
// once, and exit with fibers still pending ends the process. wait_with_deadline bounds the
// wait for a child made some other way (fork).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace weft_test {

struct ChildResult {
  bool finished = false;  // false: still running at the deadline (then killed)
  bool exited = false;    // ended by exit/return (not a signal)
  int exit_status = -1;
  int signal = 0;
  std::chrono::steady_clock::duration elapsed{};
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string slurp_fd(int fd) {
  std::string s;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

inline int temp_fd() {
  char path[] = "/tmp/weft-test-child-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd >= 0) ::unlink(path);
  return fd;
}

// Waits for child `pid` (started at `start`) to end; kills it with SIGKILL if it has not
// ended `deadline` after `start`. Fills how it ended; leaves out and err empty. Safe in a
// fiber: it polls with short sleeps rather than blocking in waitpid.
inline ChildResult wait_with_deadline(pid_t pid, std::chrono::milliseconds deadline,
                                      std::chrono::steady_clock::time_point start =
                                          std::chrono::steady_clock::now()) {
  ChildResult r;
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      r.finished = true;
      break;
    }
    if (std::chrono::steady_clock::now() - start > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.elapsed = std::chrono::steady_clock::now() - start;
  if (r.finished) {
    r.exited = WIFEXITED(status);
    if (r.exited) r.exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  }
  return r;
}

// How a child ended, for failure messages.
inline std::string describe(const ChildResult& r) {
  if (!r.finished) return "still running at the deadline (killed): it hung";
  if (r.exited) return "exited with status " + std::to_string(r.exit_status);
  return "killed by signal " + std::to_string(r.signal) + " (" + strsignal(r.signal) + ")";
}

// Waits for child `pid` (killed past `deadline`, counted from `start`), then takes what it
// wrote to out_fd and err_fd, which it closes.
inline ChildResult wait_and_collect(pid_t pid, std::chrono::milliseconds deadline,
                                    std::chrono::steady_clock::time_point start, int out_fd, int err_fd) {
  ChildResult r = wait_with_deadline(pid, deadline, start);
  r.out = slurp_fd(out_fd);
  r.err = slurp_fd(err_fd);
  ::close(out_fd);
  ::close(err_fd);
  return r;
}

// Runs `program args...` with `env` ("NAME=value", replacing NAME if set) added to this
// process's environment; kills it if it has not ended within `deadline`.
inline ChildResult run_program(const std::string& program, const std::vector<std::string>& args,
                               const std::vector<std::string>& env,
                               std::chrono::milliseconds deadline) {
  std::vector<std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string var(*e);
    bool overridden = false;
    for (const auto& mine : env) {
      const std::string name = mine.substr(0, mine.find('=') + 1);
      if (var.compare(0, name.size(), name) == 0) overridden = true;
    }
    if (!overridden) vars.push_back(std::move(var));
  }
  for (const auto& mine : env) vars.push_back(mine);
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);

  std::vector<std::string> arg_copies{program};
  arg_copies.insert(arg_copies.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : arg_copies) argv.push_back(a.data());
  argv.push_back(nullptr);

  ChildResult r;
  const int out_fd = temp_fd();
  const int err_fd = temp_fd();
  if (out_fd < 0 || err_fd < 0) {
    r.err = "mkstemp failed";
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    r.err = std::string("posix_spawn failed: ") + std::strerror(rc);
    ::close(out_fd);
    ::close(err_fd);
    return r;
  }
  return wait_and_collect(pid, deadline, start, out_fd, err_fd);
}

// Runs fn() in a forked child, whose stdout and stderr are collected, and which exits 0
// when fn returns; kills it if it has not ended within `deadline`. The child is a copy of
// the calling thread only: fork from a test process that has not started weft, so the
// child starts a runtime of its own on first use.
template <class F>
ChildResult run_in_fork(F fn, std::chrono::milliseconds deadline) {
  ChildResult r;
  const int out_fd = temp_fd();
  const int err_fd = temp_fd();
  if (out_fd < 0 || err_fd < 0) {
    r.err = "mkstemp failed";
    return r;
  }
  std::fflush(nullptr);  // or the child would write the parent's buffered output again
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    fn();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  if (pid >= 0) return wait_and_collect(pid, deadline, start, out_fd, err_fd);
  r.err = std::string("fork failed: ") + std::strerror(errno);
  ::close(out_fd);
  ::close(err_fd);
  return r;
}

// Runs `WEFT_TEST_CHILD mode` (see run_program).
inline ChildResult run_child(const std::string& mode, const std::vector<std::string>& env,
                             std::chrono::milliseconds deadline) {
  return run_program(WEFT_TEST_CHILD, {mode}, env, deadline);
}

}  // namespace weft_test
