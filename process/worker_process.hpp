// One worker process, seen from the pool: started by re-executing this program's file,
// talked to over a socket, and reaped through a pidfd, so that waiting for it to end parks
// a fiber on the reactor instead of blocking a thread.
//
// The end of the worker cannot be told by the end of its channel alone: a process the task
// forked inherits the worker's end of the socket and may keep it open long after the
// worker died. So every wait on the channel watches the pidfd too, through two small epoll
// sets made once per worker ({channel readable, process ended} and {channel writable,
// process ended}); a fiber parks on a set as on any fd, at no more cost than on the channel
// alone.
#pragma once

#include <weft/deadline.hpp>
#include <weft/net/unix.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

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

  // The channel, watched together with the process. Each returns once all the bytes have
  // moved, or throws: net::timeout_error at the deadline, net::unexpected_eof at the end of
  // the stream, std::system_error(ESRCH) once the process has ended (with nothing left to
  // read), std::system_error for other errors (EPIPE, ECONNRESET).
  void read_exact(void* into, std::size_t size, Deadline deadline);
  void write_all(std::string_view bytes, Deadline deadline);
  // The process has ended, or its channel has something to say (which an idle worker
  // never has).
  bool looks_gone() noexcept;

  // Waits up to `grace` for the process to end by itself (it closed its channel or died),
  // kills it if it has not, and reaps it.
  Ending end(std::chrono::milliseconds grace);

 private:
  WorkerProcess(pid_t pid, int pidfd, net::UnixStream channel);
  bool wait_exit(std::chrono::milliseconds timeout);
  // Makes read_watch_ and write_watch_; false (errno set) if it could not.
  bool watch() noexcept;
  // The process has ended (not reaped yet): its pidfd is readable, or without a pidfd,
  // waitid says so.
  bool ended() noexcept;
  // Waits until the set may be ready, or the deadline; throws timeout_error after it.
  // Without a pidfd no set sees the process end, so a wait lasts 100 ms at most.
  void wait_on(int watch, Deadline deadline);
  void close_watches() noexcept;

  pid_t pid_;
  int pidfd_;
  net::UnixStream channel_;
  int read_watch_ = -1;   // epoll set: channel readable, process ended
  int write_watch_ = -1;  // epoll set: channel writable, process ended
};

}  // namespace weft::rt::process
