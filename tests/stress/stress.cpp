// Shared pieces of the stress runner: the registry, failure reporting, small delays.
#include "runner.hpp"
#include "stress.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace stress {

namespace {
std::atomic<const Context*> current_{nullptr};
int report_fd_ = -1;
bool abort_on_failure_ = false;
std::atomic<bool> failing_{false};

// Straight to the kernel: a failure report must get out even when the runtime it is
// reporting on is wedged, and from a fiber the shimmed write could park.
void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const long n = ::syscall(SYS_write, fd, s.data() + done, s.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}
}  // namespace

std::vector<Scenario>& scenarios() {
  static std::vector<Scenario> all;
  return all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : scenarios()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

void set_current(const Context* ctx) { current_.store(ctx, std::memory_order_release); }

void report_to(int fd, bool abort_on_failure) {
  report_fd_ = fd;
  abort_on_failure_ = abort_on_failure;
}

void report_begin(const std::string& scenario, std::uint64_t seed) {
  if (report_fd_ >= 0) write_all(report_fd_, "B " + scenario + " " + std::to_string(seed) + "\n");
}

void report_end() {
  if (report_fd_ >= 0) write_all(report_fd_, "E\n");
}

void fail(const char* file, int line, const std::string& message) {
  if (failing_.exchange(true)) {
    for (;;) ::pause();  // another thread is reporting and will end the process
  }
  const Context* ctx = current_.load(std::memory_order_acquire);
  const char* base = file;
  for (const char* p = file; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  const std::string where = std::string(base) + ":" + std::to_string(line);
  const std::string what = one_line(where + ": " + message);
  if (ctx != nullptr) {
    write_all(2, "weft_stress: scenario=" + std::string(ctx->scenario) + " seed=" +
                     std::to_string(ctx->seed) + " threads=" + std::to_string(ctx->threads) +
                     ": " + what + "\n");
  } else {
    write_all(2, "weft_stress: " + what + "\n");
  }
  if (report_fd_ >= 0) write_all(report_fd_, "F " + what + "\n");
  if (abort_on_failure_) std::abort();  // under gdb: the backtrace of the failed check
  ::_exit(1);
}

std::string not_done_message(const char* what, Clock::time_point wait_began, bool ready_after) {
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - wait_began);
  return std::string("lost wake-up or hang: ") + what + " not done after " + std::to_string(waited.count()) +
         " ms (bound " + std::to_string(std::chrono::milliseconds(kBound).count()) + " ms); ready() right after: " +
         (ready_after ? "yes" : "no");
}

void spin_for(std::chrono::nanoseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

void jitter(Rng& rng) {
  switch (rng.below(5)) {
    case 0:
    case 1:
      break;
    case 2:
      if (weft::in_fiber()) weft::this_fiber::yield();
      break;
    case 3:
      spin_for(std::chrono::microseconds(rng.below(50)));
      break;
    default:
      weft::sleep_for(std::chrono::microseconds(rng.below(300)));
      break;
  }
}

}  // namespace stress
