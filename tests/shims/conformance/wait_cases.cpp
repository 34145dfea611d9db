// waitpid, wait4, wait, waitid, system, pclose: a child's status, WNOHANG while it runs,
// ECHILD and EINVAL, as libc gives them, on a plain thread and in a fiber alike (a fiber
// parks on a pidfd of the child, or waits for the pool). The children end by themselves
// 50 ms after they start; they are made in the act, where they are waited for. (That the
// worker stays free meanwhile, and cancellation: tests/shims/test_wait_for_child_parks.)
#include "conformance.hpp"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(waitpid)
WEFT_CONFORMS(wait4)
WEFT_CONFORMS(wait)
WEFT_CONFORMS(waitid)
WEFT_CONFORMS(system)
WEFT_CONFORMS(pclose)

namespace {

// A child that sleeps 50 ms (a raw system call: the child of a fiber's fork runs no weft)
// and exits with `code`.
pid_t child_exiting_later(int code) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const timespec nap{0, 50'000'000};
    ::syscall(SYS_nanosleep, &nap, nullptr);
    ::_exit(code);
  }
  return pid;
}

std::string status_text(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// A result as text: "child" for the child's pid, else the number and errno.
std::string result_text(long r, pid_t child) {
  if (r == child && child > 0) return "child";
  if (r < 0) return "-1/" + std::string(std::strerror(errno));
  return std::to_string(r);
}

}  // namespace

TEST_CASE("waitpid, wait4, wait: the status of a child that ends later, 0 with WNOHANG before, ECHILD after") {
  const Outcome ref = check_conforms([] {
    std::string d;
    int status = 0;
    // Each call is made before its status is read: the operands of + are unsequenced.
    auto waited = [&status](pid_t r, pid_t child) { return result_text(r, child) + " " + status_text(status); };
    pid_t child = child_exiting_later(7);
    d += "nohang " + result_text(::waitpid(child, &status, WNOHANG), child);
    pid_t r = ::waitpid(child, &status, 0);
    d += ", waitpid " + waited(r, child);
    d += ", again " + result_text(::waitpid(child, &status, 0), child);
    d += ", any " + result_text(::waitpid(-1, &status, 0), child);

    child = child_exiting_later(8);
    rusage usage{};
    r = ::wait4(child, &status, 0, &usage);
    d += "; wait4 " + waited(r, child);

    child = child_exiting_later(9);
    r = ::wait(&status);
    d += "; wait " + waited(r, child);
    d += ", none left " + result_text(::wait(&status), child);

    // A child that has ended before the call.
    child = child_exiting_later(10);
    const timespec nap{0, 150'000'000};
    ::nanosleep(&nap, nullptr);
    r = ::waitpid(child, &status, 0);
    d += "; ended before " + waited(r, child);
    // Not a child of ours (init).
    d += "; init " + result_text(::waitpid(1, &status, 0), 0);
    return Outcome{0, 0, d};
  });
  const std::string echild = "-1/" + std::string(std::strerror(ECHILD));
  CHECK(ref.detail == "nohang 0, waitpid child exit 7, again " + echild + ", any " + echild +
                          "; wait4 child exit 8; wait child exit 9, none left " + echild +
                          "; ended before child exit 10; init " + echild);
}

TEST_CASE("waitid: P_PID and P_PIDFD for a child that ends later, WNOHANG before, EINVAL, ECHILD") {
  const Outcome ref = check_conforms([] {
    std::string d;
    pid_t child = child_exiting_later(5);
    siginfo_t info{};
    // With WNOHANG and nothing to report, Linux zeroes si_pid (POSIX leaves it open).
    info.si_pid = 12345;
    int r = ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG);
    d += "nohang " + result_text(r, 0) + " si_pid " + std::to_string(info.si_pid);
    info = siginfo_t{};
    r = ::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED);
    d += ", P_PID " + result_text(r, 0) + " si_pid " +
         std::string(info.si_pid == child ? "child" : std::to_string(info.si_pid)) + " code " +
         std::to_string(info.si_code) + " status " + std::to_string(info.si_status);

    child = child_exiting_later(6);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    info = siginfo_t{};
    r = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED);
    d += "; P_PIDFD " + result_text(r, 0) + " status " + std::to_string(info.si_status);
    ::close(pidfd);

    d += "; bad idtype " + result_text(::waitid(static_cast<idtype_t>(99), 0, &info, WEXITED), 0);
    d += "; no options " + result_text(::waitid(P_ALL, 0, &info, 0), 0);
    d += "; none left " + result_text(::waitid(P_ALL, 0, &info, WEXITED), 0);
    return Outcome{0, 0, d};
  });
  const std::string einval = "-1/" + std::string(std::strerror(EINVAL));
  CHECK(ref.detail == "nohang 0 si_pid 0, P_PID 0 si_pid child code " + std::to_string(CLD_EXITED) +
                          " status 5; P_PIDFD 0 status 6; bad idtype " + einval + "; no options " + einval +
                          "; none left -1/" + std::strerror(ECHILD));
}

TEST_CASE("system and pclose: the command's status, a shell present, popen's output") {
  const Outcome ref = check_conforms([] {
    std::string d = "system " + status_text(::system("exit 3"));
    d += ", shell " + std::to_string(::system(nullptr) != 0);
    FILE* out = ::popen("echo hello", "r");
    char line[32] = "";
    if (out != nullptr && ::fgets(line, sizeof line, out) == nullptr) line[0] = '\0';
    d += "; popen read " + std::string(line);
    d += " pclose " + (out != nullptr ? status_text(::pclose(out)) : std::string("no stream"));
    FILE* failing = ::popen("exit 4", "r");
    d += "; pclose of exit 4: " + (failing != nullptr ? status_text(::pclose(failing)) : std::string("no stream"));
    return Outcome{0, 0, d};
  });
  CHECK(ref.detail == "system exit 3, shell 1; popen read hello\n pclose exit 0; pclose of exit 4: exit 4");
}
