// The program tests/gdb/check_gdb_script.py runs under gdb to try share/gdb/weft.py: on two
// workers, named fibers parked in recognisable functions, one fiber spinning on its worker,
// then a stop in gdb_sample_stop_here() on the main thread, where gdb looks at them.
//
// Before the stop it prints what list_fibers() says of each named fiber ("fiber <id> <name>
// <worker> <state> <wait> <fd>"), so the driver can hold gdb's listing against the
// runtime's own. Run alone it just goes through and exits 0.
#include <weft/weft.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// Every gdb_sample_* function is kept out of line, and each does something after its call,
// so the call is not a tail call that leaves no frame of its own for gdb to find.
[[gnu::noinline]] void gdb_sample_sleep_here() {
  weft::sleep_for(1h);  // ended by a cancel
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void gdb_sample_read_here(int fd) {
  char c = 0;
  if (::read(fd, &c, 1) != 1) std::abort();
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void gdb_sample_wait_here(weft::Event& event) {
  event.wait();
  asm volatile("" ::: "memory");
}

[[gnu::noinline]] void gdb_sample_spin_here(const std::atomic<bool>& release) {
  while (!release.load(std::memory_order_acquire)) {
    asm volatile("pause" ::: "memory");
  }
}

// Where gdb stops; the driver's breakpoint.
[[gnu::noinline]] void gdb_sample_stop_here() { asm volatile("" ::: "memory"); }

namespace {

// Polls list_fibers() until every fiber named in `want` shows that state; exits 2 if that
// takes more than 20 s.
std::vector<weft::FiberInfo> wait_for(const std::vector<std::string>& want, weft::FiberState state) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    std::vector<weft::FiberInfo> all = weft::list_fibers();
    const bool ready = std::all_of(want.begin(), want.end(), [&](const std::string& name) {
      return std::any_of(all.begin(), all.end(),
                         [&](const weft::FiberInfo& f) { return f.name == name && f.state == state; });
    });
    if (ready) return all;
    if (std::chrono::steady_clock::now() > give_up) {
      std::fprintf(stderr, "gdb_sample: the fibers did not get to %s\n", weft::to_string(state));
      std::exit(2);
    }
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace

int main() {
  weft::configure(weft::Config{.threads = 2});
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  weft::Event event;
  std::atomic<bool> release{false};

  // Spawned from a plain thread, so they go round robin over the two workers.
  auto sleeper = weft::spawn(weft::FiberOptions{"sleeper"}, gdb_sample_sleep_here);
  auto reader = weft::spawn(weft::FiberOptions{"reader"}, gdb_sample_read_here, fds[0]);
  auto waiter = weft::spawn(weft::FiberOptions{"waiter"}, [&] { gdb_sample_wait_here(event); });
  wait_for({"sleeper", "reader", "waiter"}, weft::FiberState::parked);
  // Last, since it holds its worker until released.
  auto spinner = weft::spawn(weft::FiberOptions{"spinner"}, [&] { gdb_sample_spin_here(release); });
  for (const weft::FiberInfo& f : wait_for({"spinner"}, weft::FiberState::running)) {
    if (f.name.empty()) continue;
    std::printf("fiber %llu %s %u %s %s %d\n", static_cast<unsigned long long>(f.id), f.name.c_str(),
                f.worker, weft::to_string(f.state), weft::to_string(f.wait), f.fd);
  }
  std::fflush(stdout);

  gdb_sample_stop_here();

  release.store(true, std::memory_order_release);
  spinner.get();
  if (::write(fds[1], "x", 1) != 1) return 1;
  reader.get();
  event.set();
  waiter.get();
  sleeper.cancel();
  try {
    sleeper.get();
  } catch (const weft::cancelled_error&) {
  }
  ::close(fds[0]);
  ::close(fds[1]);
  std::puts("gdb_sample: done");
  return 0;
}
