// What the fork tests do in a child: use every part of weft that the parent had running, so
// that anything the child inherited from the parent's runtime and failed to reset shows up
// as a hang (turned into a failure by the parent's deadline) or a wrong result.
//
// A child must not use doctest (its state is the parent's copy): it reports through its
// exit status, 0 for success; use_weft_in_child's codes say which step went wrong.
#pragma once

#include <weft/weft.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <thread>
#include <vector>

namespace weft_test {

// Made by a fiber in the parent, which also parked on it, so its fd record says "armed in
// one of the parent's reactors" and its kernel flags are non-blocking.
struct ArmedPipe {
  int read_end = -1;
  int write_end = -1;
};

// In a fiber of the parent: a pipe that a fiber read from after parking (so it was armed).
inline ArmedPipe make_armed_pipe() {
  int p[2];
  if (::pipe(p) != 0) throw std::runtime_error("pipe failed");
  auto reader = weft::spawn([fd = p[0]] {
    char c = 0;
    return ::read(fd, &c, 1) == 1 && c == 'p';
  });
  weft::sleep_for(std::chrono::milliseconds(5));  // the reader parks and arms the fd
  if (::write(p[1], "p", 1) != 1 || !reader.get()) throw std::runtime_error("armed pipe failed");
  return ArmedPipe{p[0], p[1]};
}

inline int square_in_process(int x) { return x * x; }

// GCC 12's AddressSanitizer has no fork handlers for its allocator: a child deadlocks in its
// first malloc if another thread of the parent was inside the allocator at the fork (seen
// here: a new worker of the child stuck in SizeClassAllocator64::GetFromAllocator). glibc's
// malloc has them. So under the sanitizers the tests' background load pauses around each
// fork; without them it runs through the forks, which is what the tests are about.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kPauseLoadForFork = true;
#else
inline constexpr bool kPauseLoadForFork = false;
#endif

// The pause: load fibers call pause_point() between steps; the forking test calls hold()
// before fork() and release() after.
class LoadPause {
 public:
  void pause_point() {
    if (!holding_.load()) return;
    held_.fetch_add(1);
    while (holding_.load()) weft::sleep_for(std::chrono::milliseconds(1));
    held_.fetch_sub(1);
  }
  // Holds `participants` fibers at their pause points (only if kPauseLoadForFork). False if
  // they did not all arrive within 10 s.
  bool hold(int participants) {
    if (!kPauseLoadForFork) return true;
    holding_.store(true);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (held_.load() < participants) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  void release() { holding_.store(false); }

 private:
  std::atomic<bool> holding_{false};
  std::atomic<int> held_{0};
};

enum ChildStep : int {
  kRunFailed = 3,
  kSpawnTreeFailed = 4,
  kBlockingFailed = 5,
  kPipeFailed = 6,
  kProcessFailed = 7,
  kThrew = 8,
  kTimedWaitFailed = 9,
};

// Uses weft in the child: run, a tree of fibers that sleep and join, spawn_blocking, fibers
// parked on the inherited pipe, a timed wait that expires, and spawn_process if asked.
// Returns 0 or the ChildStep that failed.
inline int use_weft_in_child(ArmedPipe pipe, bool with_processes) {
  using namespace std::chrono_literals;
  try {
    if (weft::run([] { return 6 * 7; }) != 42) return kRunFailed;

    const int tree = weft::run([] {
      std::vector<weft::Unfuture<int>> kids;
      for (int i = 0; i < 20; ++i) {
        kids.push_back(weft::spawn([i] {
          weft::sleep_for(1ms);
          return weft::spawn([i] { return i; }).get();
        }));
      }
      int sum = 0;
      for (auto& k : kids) sum += k.get();
      return sum;
    });
    if (tree != 190) return kSpawnTreeFailed;

    if (weft::spawn_blocking([] { return 11; }).get() != 11) return kBlockingFailed;

    if (pipe.read_end >= 0) {
      // The reader parks first: the fd must be armed in one of the child's own reactors.
      auto reader = weft::spawn([fd = pipe.read_end] {
        char buf[4] = {};
        return ::read(fd, buf, sizeof buf) == 2 && buf[0] == 'o' && buf[1] == 'k';
      });
      weft::run([fd = pipe.write_end] {
        weft::sleep_for(10ms);
        return ::write(fd, "ok", 2);
      });
      if (!reader.wait_for(10s) || !reader.get()) return kPipeFailed;
    }

    weft::Promise<int> never;
    if (never.get_unfuture().wait_for(5ms)) return kTimedWaitFailed;

    if (with_processes && weft::spawn_process(square_in_process, 9).get() != 81) {
      return kProcessFailed;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
    return kThrew;
  }
}

}  // namespace weft_test
