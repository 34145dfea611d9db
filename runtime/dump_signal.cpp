#include "dump_signal.hpp"

#include "libc.hpp"

#include <weft/dump.hpp>

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace weft::rt {

namespace {

// The pipe's write end, for the handler; -1: no dumping thread in this process.
std::atomic<int> wake_fd{-1};
std::atomic<int> read_fd{-1};  // the dumping thread's end
// The signal and what it did before weft took it, for a forked child to get back.
int taken_signal = 0;
struct sigaction before_weft {};

void on_dump_signal(int) {
  const int saved_errno = errno;
  const int fd = wake_fd.load(std::memory_order_acquire);
  if (fd >= 0) {
    const char one = 1;
    (void)WEFT_REAL(write)(fd, &one, 1);  // a full pipe already asks for a dump
  }
  errno = saved_errno;
}

void write_all(int fd, const std::string& text) noexcept {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = WEFT_REAL(write)(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void check_dump_signal(int sig) {
  if (sig < 1 || sig > SIGRTMAX) {
    throw std::invalid_argument("weft: dump signal " + std::to_string(sig) + " is not a signal");
  }
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGSYS:
    case SIGTRAP:
    case SIGABRT:
    case SIGCHLD:
    case SIGPIPE:
    case SIGURG:
      throw std::invalid_argument(std::string("weft: SIG") + ::sigabbrev_np(sig) +
                                  " cannot be the dump signal (SIGKILL and SIGSTOP cannot be caught; faults "
                                  "and abort() must stay fatal; the system sends SIGCHLD and SIGPIPE; SIGURG "
                                  "is the blocked-worker monitor's)");
  }
  if (sig < SIGRTMIN) {
    if (sig >= 32) throw std::invalid_argument("weft: signal " + std::to_string(sig) + " is glibc's own");
  }
}

int parse_dump_signal(const char* text) {
  const std::string value = text;
  if (value == "0") return 0;  // none, as an empty value
  int sig = 0;
  if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos && value.size() < 4) {
    sig = std::atoi(value.c_str());
  } else {
    const std::string name = value.rfind("SIG", 0) == 0 ? value.substr(3) : value;
    for (int s = 1; s < SIGRTMIN; ++s) {
      const char* abbrev = ::sigabbrev_np(s);
      if (abbrev != nullptr && name == abbrev) sig = s;
    }
    if (sig == 0) {
      throw std::invalid_argument("WEFT_DUMP_SIGNAL='" + value + "': expected a signal name (SIGQUIT) or number");
    }
  }
  try {
    check_dump_signal(sig);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("WEFT_DUMP_SIGNAL='" + value + "': " + e.what());
  }
  return sig;
}

DumpSignal::DumpSignal(int sig) {
  int ends[2];
  if (WEFT_REAL(pipe2)(ends, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "weft: a pipe for the dump signal");
  }
  // Non-blocking for the handler, which must never wait; the thread reads blocking.
  (void)WEFT_REAL(fcntl)(ends[1], F_SETFL, O_NONBLOCK);
  thread_ = std::thread([this, read_end = ends[0]] { run(read_end); });
  thread_.detach();  // like the runtime, it lives as long as the process
  read_fd.store(ends[0], std::memory_order_relaxed);
  wake_fd.store(ends[1], std::memory_order_release);
  struct sigaction sa {};
  sa.sa_handler = on_dump_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  taken_signal = sig;
  ::sigaction(sig, &sa, &before_weft);
}

void DumpSignal::run(int read_end) noexcept {
  char bytes[64];
  for (;;) {
    const ssize_t n = WEFT_REAL(read)(read_end, bytes, sizeof bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    try {
      std::ostringstream out;
      weft::dump(out);
      write_all(2, out.str());
    } catch (const std::exception& e) {
      write_all(2, std::string("weft: the dump failed: ") + e.what() + "\n");
    }
  }
}

void forget_dump_signal_in_child() noexcept {
  const int fd = wake_fd.exchange(-1, std::memory_order_acq_rel);
  if (fd < 0) return;
  // Until a runtime starts here and takes it again, the signal does what it did before.
  ::sigaction(taken_signal, &before_weft, nullptr);
  WEFT_REAL(close)(fd);
  WEFT_REAL(close)(read_fd.exchange(-1, std::memory_order_relaxed));
}

}  // namespace weft::rt
