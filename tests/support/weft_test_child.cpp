// Child process for tests that need a fresh process (see child_process.hpp).
//
//   weft_test_child pending-return        fibers asleep for an hour, fibers blocked on
//                                         promises nobody sets, a blocking-pool call that
//                                         takes an hour; then main returns 0
//   weft_test_child pending-exit-in-fiber the same, then a fiber calls std::exit(0)
//   weft_test_child pending-quick-exit-in-fiber
//                                         the same with std::quick_exit(0)
//   weft_test_child busy-return           fibers yielding and spawning without pause;
//                                         then main returns 0
//   weft_test_child dump-signal           a fiber 'signalled-sleeper' asleep and a ticking
//                                         fiber; raises WEFT_DUMP_SIGNAL's signal twice, then
//                                         prints "ticks went on" if the ticks did; then a
//                                         forked child raises it and should die by it
//   weft_test_child spawn                 the first spawn (for bad WEFT_* variables):
//                                         prints "value V threads N" or
//                                         "invalid_argument: WHAT", then tries again
//
// Exit status 0 is what the test expects; 2..9 name what went wrong before that point.
#include <weft/weft.hpp>

#include <atomic>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr int kEach = 50;
std::atomic<int> parked{0};
weft::Promise<int>* never_set = nullptr;  // leaked: nobody ever sets it

// Waits until `n` fibers and threads have checked in, then a little longer so the last
// ones are really parked. False after 20 s.
bool wait_parked(int n) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (parked.load() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(50ms);
  return true;
}

// Starts every kind of wait that never ends by itself. Returns how many check in.
int start_pending(std::vector<weft::Unfuture<void>>& handles, weft::Promise<void>& local) {
  never_set = new weft::Promise<int>;
  auto sleeper = weft::spawn([] {
    weft::sleep_for(1h);
    return 1;
  });
  for (int i = 0; i < kEach; ++i) {
    handles.push_back(weft::spawn([] {
      parked.fetch_add(1);
      weft::sleep_for(1h);
    }));
    handles.push_back(weft::spawn([u = never_set->get_unfuture()] {
      parked.fetch_add(1);
      (void)u.get();
    }));
    handles.push_back(weft::spawn([sleeper] {
      parked.fetch_add(1);
      (void)sleeper.get();
    }));
    // `local` is destroyed as main returns: these wake with broken_promise during exit
    // and block again on never_set.
    handles.push_back(weft::spawn([u = local.get_unfuture()] {
      parked.fetch_add(1);
      try {
        u.get();
      } catch (const std::future_error&) {
      }
      (void)never_set->get_unfuture().get();
    }));
  }
  handles.push_back(weft::spawn_blocking([] {
    parked.fetch_add(1);
    std::this_thread::sleep_for(1h);
  }));
  return 4 * kEach + 1;
}

int spawn_mode() {
  try {
    auto u = weft::spawn([] { return 7; });
    std::printf("value %d threads %u\n", u.get(), weft::current_config().threads);
    return 0;
  } catch (const std::invalid_argument& e) {
    std::printf("invalid_argument: %s\n", e.what());
  } catch (const std::exception& e) {
    std::printf("other exception: %s\n", e.what());
    return 3;
  }
  // A failed start must not leave a half-built runtime behind: the next try fails the
  // same way.
  try {
    weft::run([] {});
    std::printf("second: ran\n");
  } catch (const std::invalid_argument& e) {
    std::printf("second invalid_argument: %s\n", e.what());
  } catch (const std::exception& e) {
    std::printf("second other exception: %s\n", e.what());
  }
  return 0;
}

}  // namespace

// The dump signal reaches the dumping thread, and the program goes on meanwhile.
int dump_signal_mode() {
  auto sleeper = weft::spawn(weft::FiberOptions{"signalled-sleeper"}, [] {
    parked.fetch_add(1);
    weft::sleep_for(1h);
  });
  std::atomic<int> ticks{0};
  std::atomic<bool> stop{false};
  auto ticker = weft::spawn([&] {
    while (!stop) {
      weft::sleep_for(5ms);
      ++ticks;
    }
  });
  if (!wait_parked(1)) return 4;
  const int sig = weft::current_config().dump_signal;
  if (sig == 0) return 5;
  std::raise(sig);
  std::this_thread::sleep_for(500ms);
  std::raise(sig);
  const int before = ticks.load();
  std::this_thread::sleep_for(500ms);
  stop = true;
  ticker.get();
  if (ticks.load() > before) std::puts("ticks went on");
  // A forked child has no dumping thread: the signal does there what it did before weft.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = ::fork();
  if (child == 0) {
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // SIGQUIT's default action writes one
    std::raise(sig);
    ::_exit(0);
  }
  int status = 0;
  if (child > 0 && ::waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == sig) {
    std::puts("a forked child died by the signal");
  }
  std::fflush(stdout);
  sleeper.cancel();
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* mode = argv[1];
  if (std::strcmp(mode, "spawn") == 0) return spawn_mode();
  if (std::strcmp(mode, "dump-signal") == 0) return dump_signal_mode();

  std::vector<weft::Unfuture<void>> handles;
  weft::Promise<void> local;
  if (std::strcmp(mode, "pending-return") == 0) {
    if (!wait_parked(start_pending(handles, local))) return 4;
    std::puts("parked");
    std::fflush(stdout);
    return 0;
  }
  if (std::strcmp(mode, "pending-exit-in-fiber") == 0) {
    if (!wait_parked(start_pending(handles, local))) return 4;
    std::puts("parked");
    std::fflush(stdout);
    weft::spawn([] { std::exit(0); });
    std::this_thread::sleep_for(1h);
    return 5;
  }
  if (std::strcmp(mode, "pending-quick-exit-in-fiber") == 0) {
    if (!wait_parked(start_pending(handles, local))) return 4;
    std::puts("parked");
    std::fflush(stdout);
    weft::spawn([] { std::quick_exit(0); });
    std::this_thread::sleep_for(1h);
    return 5;
  }
  if (std::strcmp(mode, "busy-return") == 0) {
    for (int i = 0; i < 8; ++i) {
      handles.push_back(weft::spawn([] {
        parked.fetch_add(1);
        for (;;) weft::this_fiber::yield();
      }));
      handles.push_back(weft::spawn([] {
        parked.fetch_add(1);
        for (;;) weft::spawn([] { return std::vector<int>(100, 1); }).get();
      }));
    }
    if (!wait_parked(16)) return 4;
    std::puts("busy");
    std::fflush(stdout);
    return 0;
  }
  return 2;
}
