// Waiting for child processes: waitpid, wait4, waitid, wait, and the two libc calls that
// wait inside (system, pclose).
//
// A fiber waiting for one child's exit parks on a pidfd of it (pidfd_open), which becomes
// readable when the child ends: it asks with WNOHANG, and while the child runs waits in
// poll() on the pidfd, so the wait is an ordinary parked, cancellable fd wait (a cancelled
// fiber gets -1 with ECANCELED, and the child is left for a later wait). The pidfd is
// opened before the first ask, so an exit between the two still makes it readable.
//
// Everything else (any child, a process group, stops and continues, system, pclose) runs
// on the blocking pool while the fiber waits, shielded: it reaps when it ends (offload.hpp).
#include "io_gate.hpp"
#include "nowait.hpp"
#include "offload.hpp"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using weft::shim::in_fiber;
using weft::shim::offload_blocking;

namespace {

// Whether a wait on `pid` with `options` is for one child's exit only: then a pidfd tells
// when it is done. The WNOHANG forms never wait.
bool exit_of_one_child(pid_t pid, int options) noexcept {
  return pid > 0 && (options & (WUNTRACED | WCONTINUED)) == 0;
}

// Parks until `pidfd` is readable (the child has ended). False with errno set if the wait
// failed or the fiber was cancelled.
bool park_until_exit(int pidfd) noexcept { return weft::shim::wait_until_ready(pidfd, POLLIN); }

// ask() is the wait with WNOHANG added: a result other than 0 ends it. Parks on a pidfd
// of `pid` between asks; without one (no such process, or pidfds unsupported), the wait
// runs on the pool as `blocking()`.
template <class Ask, class Blocking>
auto wait_for_exit(pid_t pid, Ask ask, Blocking blocking) noexcept -> decltype(ask()) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    if (errno == ESRCH) return ask();  // gone and reaped, or never ours: libc's answer, at once
    return offload_blocking(blocking);
  }
  decltype(ask()) r;
  for (;;) {
    r = ask();
    if (r != 0) break;
    if (!park_until_exit(pidfd)) {
      r = -1;
      break;
    }
  }
  const int err = errno;
  ::close(pidfd);
  errno = err;
  return r;
}

}  // namespace

extern "C" {

pid_t waitpid(pid_t pid, int* status, int options) {
  if (!in_fiber() || (options & WNOHANG) != 0) return WEFT_REAL(waitpid)(pid, status, options);
  auto blocking = [=] { return WEFT_REAL(waitpid)(pid, status, options); };
  if (!exit_of_one_child(pid, options)) return offload_blocking(blocking);
  return wait_for_exit(pid, [=] { return WEFT_REAL(waitpid)(pid, status, options | WNOHANG); }, blocking);
}

pid_t wait4(pid_t pid, int* status, int options, struct rusage* usage) {
  if (!in_fiber() || (options & WNOHANG) != 0) return WEFT_REAL(wait4)(pid, status, options, usage);
  auto blocking = [=] { return WEFT_REAL(wait4)(pid, status, options, usage); };
  if (!exit_of_one_child(pid, options)) return offload_blocking(blocking);
  return wait_for_exit(pid, [=] { return WEFT_REAL(wait4)(pid, status, options | WNOHANG, usage); }, blocking);
}

pid_t wait(int* status) {
  if (!in_fiber()) return WEFT_REAL(wait)(status);
  return offload_blocking([=] { return WEFT_REAL(wait)(status); });
}

int waitid(idtype_t idtype_arg, id_t id, siginfo_t* info, int options) {
  // An idtype outside the enum (EINVAL from the kernel) must not be read as one (UB): it
  // goes to libc as the int it is.
  int type = 0;
  std::memcpy(&type, &idtype_arg, sizeof type);
  const bool known = type == P_ALL || type == P_PID || type == P_PGID || type == P_PIDFD;
  if (!known) {
    using AsInt = int (*)(int, id_t, siginfo_t*, int);
    return reinterpret_cast<AsInt>(WEFT_REAL(waitid))(type, id, info, options);
  }
  const auto idtype = static_cast<idtype_t>(type);
  if (!in_fiber() || (options & WNOHANG) != 0) return WEFT_REAL(waitid)(idtype, id, info, options);
  auto blocking = [=] { return WEFT_REAL(waitid)(idtype, id, info, options); };
  // waitid's WNOHANG says "nothing yet" by a zero si_pid, not by its result.
  auto ask = [=] {
    if (info != nullptr) info->si_pid = 0;
    const int r = WEFT_REAL(waitid)(idtype, id, info, options | WNOHANG);
    return r == 0 && (info == nullptr || info->si_pid == 0) ? 0 : (r == 0 ? 1 : r);
  };
  const bool exits_only = (options & (WSTOPPED | WCONTINUED)) == 0 && info != nullptr;
  if (exits_only && idtype == P_PIDFD) {
    for (;;) {
      const int r = ask();
      if (r != 0) return r < 0 ? r : 0;
      if (!park_until_exit(static_cast<int>(id))) return -1;
    }
  }
  if (!exits_only || idtype != P_PID || id == 0) return offload_blocking(blocking);
  const int r = wait_for_exit(static_cast<pid_t>(id), ask, blocking);
  return r < 0 ? r : 0;
}

int system(const char* command) {
  if (!in_fiber()) return WEFT_REAL(system)(command);
  return offload_blocking([=] { return WEFT_REAL(system)(command); });
}

int pclose(FILE* stream) {
  if (!in_fiber() || stream == nullptr) return WEFT_REAL(pclose)(stream);
  // pclose closes the pipe inside libc, past the close shim: fibers waiting on the fd
  // wake with EBADF first (one that starts a call on a stream being closed is the
  // program's race, as with fclose on a thread).
  const int fd = ::fileno(stream);
  if (fd >= 0) weft::rt::retire_fd(fd);
  return offload_blocking([=] { return WEFT_REAL(pclose)(stream); });
}

}  // extern "C"
