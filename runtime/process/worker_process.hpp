// One worker process, seen from the pool: started by re-executing this program's file,
// talked to over a socket, and reaped through a pidfd, so that waiting for it to end parks
// a fiber on the reactor instead of blocking a thread.
#pragma once

#include <weft/deadline.hpp>
#include <weft/net/unix.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>

namespace weft::rt::process {

// How a worker process ended.
struct Ending {
  int signal = 0;        // the signal that killed it, or 0
  int exit_status = -1;  // its exit status, or -1
  bool known = true;     // false if someone else collected its status (wait(-1), SIGCHLD ignored)

  std::string describe() const;  // "was killed by signal 11 (SIGSEGV)", "exited with status 3"
};

class WorkerProcess {
 public:
  // Starts a worker and waits (until `ready_by`) for its hello. Throws process_error
  // (start_failed) saying why it could not.
  static WorkerProcess start(Deadline ready_by);

  WorkerProcess(WorkerProcess&&) noexcept;
  WorkerProcess& operator=(WorkerProcess&&) = delete;
  // Kills and reaps the process if end() was not called.
  ~WorkerProcess();

  pid_t pid() const noexcept { return pid_; }
  net::UnixStream& channel() noexcept { return channel_; }

  // Waits up to `grace` for the process to end by itself (it closed its channel or died),
  // kills it if it has not, and reaps it.
  Ending end(std::chrono::milliseconds grace);

 private:
  WorkerProcess(pid_t pid, int pidfd, net::UnixStream channel);
  bool wait_exit(std::chrono::milliseconds timeout);

  pid_t pid_;
  int pidfd_;
  net::UnixStream channel_;
};

}  // namespace weft::rt::process
