// 7. The cost of the libc shims (weft_shims; bench/run.sh runs it on one CPU).
//
//   a. read / write of 1 byte on a ready pipe from a plain thread: weft's shim (the
//      program's own ::read, which is libweft's) against libc's read called directly.
//   b. the same loop in a weft fiber, where the shim finds a managed, non-blocking fd
//      and takes its ready path; against libc's read called directly in the same fiber.
//   c. a blocked read woken by the peer's write: two fibers on one worker ping-pong a
//      byte over a socketpair, each parking in read until the other writes; against two
//      plain threads on one CPU doing the same with blocking reads, and a hand-written
//      epoll loop on one thread (the floor). One iteration is a round trip: two hops.
//
// "libc's read" is libc.so.6's own (libc_direct.hpp).
// The ready fd: one byte moves per call, and every kRefill calls the benchmark refills
// (or drains) the pipe with one libc call for kRefill bytes, the same in both columns.
//
// SHIM_BENCH_ITERATIONS=N runs each benchmark for exactly N iterations (one repetition),
// for instruction counts: callgrind's totals for two values of N differ by the cost of
// the difference in iterations, whatever the process does around them (issue 15 compares
// a ready read and a blocked read's hop this way before and after cancellation).
#include "common.hpp"
#include "libc_direct.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netdb.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

using weft_bench::report_per;

using ReadFn = ssize_t (*)(int, void*, size_t);
using WriteFn = ssize_t (*)(int, const void*, size_t);
using EpollWaitFn = int (*)(int, epoll_event*, int, int);

using PreadFn = ssize_t (*)(int, void*, size_t, off_t);

struct Libc {
  ReadFn read = nullptr;
  PreadFn pread = nullptr;
  WriteFn write = nullptr;
  EpollWaitFn epoll_wait = nullptr;
};

// libc's own read, write and epoll_wait.
const Libc& libc() {
  static const Libc fns = [] {
    Libc l;
    l.read = weft_bench::libc_direct<ReadFn>("read", "shim_bench");
    l.pread = weft_bench::libc_direct<PreadFn>("pread", "shim_bench");
    l.write = weft_bench::libc_direct<WriteFn>("write", "shim_bench");
    l.epoll_wait = weft_bench::libc_direct<EpollWaitFn>("epoll_wait", "shim_bench");
    weft_bench::note_where_resolves("read");
    return l;
  }();
  return fns;
}

// Looked up before main(), so that what it adds to the context is printed with it.
[[maybe_unused]] const Libc& libc_at_start = libc();

// Every benchmark's Setup, on the benchmark's thread: resolves libc's functions
// and starts weft's runtime, so every benchmark runs in the same, multi-threaded process
// (libc's read takes its cancellation-point path only once a second thread exists).
void setup(const benchmark::State&) {
  static const bool done = [] {
    libc();
    weft::run([] {});
    return true;
  }();
  (void)done;
}

void fixed_iterations(benchmark::internal::Benchmark* b) { weft_bench::iterations_from_env(b, "SHIM_BENCH_ITERATIONS"); }

constexpr int kRefill = 4096;  // a pipe holds 64 KiB; 1-byte writes merge into its pages

using weft_bench::Pipe;

char g_block[kRefill];

// Reads one byte per iteration with `rd` from a pipe that is never empty.
template <class Read>
void read_loop(benchmark::State& state, Read rd) {
  Pipe p(state);
  if (p.fd[0] < 0) return;
  const Libc& c = libc();
  int left = 0;
  char b;
  for (auto _ : state) {
    if (left == 0) {
      if (c.write(p.fd[1], g_block, kRefill) != kRefill) {
        state.SkipWithError("refill failed");
        break;
      }
      left = kRefill;
    }
    if (rd(p.fd[0], &b, 1) != 1) {
      state.SkipWithError("read failed");
      break;
    }
    --left;
  }
  report_per(state, "ns_per_call", 1);
}

// Writes one byte per iteration with `wr` into a pipe that is never full.
template <class Write>
void write_loop(benchmark::State& state, Write wr) {
  Pipe p(state);
  if (p.fd[0] < 0) return;
  const Libc& c = libc();
  int done = 0;
  const char b = 'x';
  for (auto _ : state) {
    if (wr(p.fd[1], &b, 1) != 1) {
      state.SkipWithError("write failed");
      break;
    }
    if (++done == kRefill) {
      if (c.read(p.fd[0], g_block, kRefill) != kRefill) {
        state.SkipWithError("drain failed");
        break;
      }
      done = 0;
    }
  }
  report_per(state, "ns_per_call", 1);
}

ssize_t shim_read(int fd, void* buf, size_t n) { return ::read(fd, buf, n); }
ssize_t shim_write(int fd, const void* buf, size_t n) { return ::write(fd, buf, n); }

// --- a. plain thread -----------------------------------------------------------------

void BM_shim_read_thread(benchmark::State& state) { read_loop(state, shim_read); }
BENCHMARK(BM_shim_read_thread)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_read_thread(benchmark::State& state) { read_loop(state, libc().read); }
BENCHMARK(BM_libc_read_thread)->Setup(setup)->Apply(fixed_iterations);
void BM_shim_write_thread(benchmark::State& state) { write_loop(state, shim_write); }
BENCHMARK(BM_shim_write_thread)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_write_thread(benchmark::State& state) { write_loop(state, libc().write); }
BENCHMARK(BM_libc_write_thread)->Setup(setup)->Apply(fixed_iterations);

// --- b. in a fiber: the benchmark's loop runs on the one worker -----------------------

void BM_shim_read_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { read_loop(st, shim_read); });
}
BENCHMARK(BM_shim_read_fiber)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_read_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { read_loop(st, libc().read); });
}
BENCHMARK(BM_libc_read_fiber)->Setup(setup)->Apply(fixed_iterations);
void BM_shim_write_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { write_loop(st, shim_write); });
}
BENCHMARK(BM_shim_write_fiber)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_write_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { write_loop(st, libc().write); });
}
BENCHMARK(BM_libc_write_fiber)->Setup(setup)->Apply(fixed_iterations);

// --- d. a 4 KiB read of a cached regular file (issue 16: files take what the cache holds
// on the worker, through preadv2 with RWF_NOWAIT, before any pool hop) -----------------

// Reads the same cached 4 KiB of a scratch file each iteration with `rd` (a pread).
template <class Pread>
void file_read_loop(benchmark::State& state, Pread rd) {
  char name[] = "/tmp/weft-bench-file-XXXXXX";
  const int fd = ::mkstemp(name);
  if (fd < 0 || ::write(fd, g_block, sizeof g_block) != static_cast<ssize_t>(sizeof g_block)) {
    state.SkipWithError("scratch file");
    return;
  }
  ::unlink(name);
  char buf[sizeof g_block];
  for (auto _ : state) {
    if (rd(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) {
      state.SkipWithError("pread failed");
      break;
    }
  }
  ::close(fd);
  report_per(state, "ns_per_call", 1);
}

ssize_t shim_pread(int fd, void* buf, size_t n, off_t at) { return ::pread(fd, buf, n, at); }

void BM_shim_file_read_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { file_read_loop(st, shim_pread); });
}
BENCHMARK(BM_shim_file_read_fiber)->Setup(setup)->Apply(fixed_iterations);
void BM_libc_file_read_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { file_read_loop(st, libc().pread); });
}
BENCHMARK(BM_libc_file_read_fiber)->Setup(setup)->Apply(fixed_iterations);

// --- e. numeric getaddrinfo (issue 16: answered on the worker, no pool hop) -------------

void numeric_lookup_loop(benchmark::State& state) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  for (auto _ : state) {
    addrinfo* res = nullptr;
    if (::getaddrinfo("127.0.0.1", "8080", &hints, &res) != 0) {
      state.SkipWithError("getaddrinfo failed");
      break;
    }
    ::freeaddrinfo(res);
  }
  report_per(state, "ns_per_call", 1);
}

void BM_numeric_getaddrinfo_thread(benchmark::State& state) { numeric_lookup_loop(state); }
BENCHMARK(BM_numeric_getaddrinfo_thread)->Setup(setup)->Apply(fixed_iterations);
void BM_numeric_getaddrinfo_fiber(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) { numeric_lookup_loop(st); });
}
BENCHMARK(BM_numeric_getaddrinfo_fiber)->Setup(setup)->Apply(fixed_iterations);

// --- c. blocked read -> wake -> resume -------------------------------------------------
// Timed in CPU time of the whole process (both threads of the baseline, the worker and
// the waiting main thread for weft): on one CPU that is the round trip's cost, and other
// processes sharing the CPU do not inflate it as they do wall time.

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair(benchmark::State& state, int flags = 0) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | flags, 0, fd) != 0) state.SkipWithError("socketpair failed");
  }
  ~SocketPair() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

// weft: the benchmark's fiber and a partner on the one worker; reads and writes go
// through the shims, and each read finds the socket empty and parks.
void BM_weft_blocked_read_pingpong(benchmark::State& state) {
  weft_bench::in_weft_fiber(state, [](benchmark::State& st) {
    SocketPair sp(st);
    if (sp.fd[0] < 0) return;
    const int mine = sp.fd[0], theirs = sp.fd[1];
    auto partner = weft::spawn([theirs] {
      char c;
      while (::read(theirs, &c, 1) == 1 && c == 'p') {
        if (::write(theirs, &c, 1) != 1) return;
      }
    });
    char c = 'p';
    for (auto _ : st) {
      if (::write(mine, &c, 1) != 1 || ::read(mine, &c, 1) != 1) {
        st.SkipWithError("socket I/O failed");
        break;
      }
    }
    const char stop = 's';
    if (::write(mine, &stop, 1) != 1) std::perror("write");
    partner.get();
  });
  report_per(state, "ns_per_hop", 2);
}
BENCHMARK(BM_weft_blocked_read_pingpong)->Setup(setup)->Apply(fixed_iterations)->MeasureProcessCPUTime();

// Pins the calling thread to `cpu`.
void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

// Two plain threads pinned to the CPU the benchmark runs on, blocking in libc's read.
void BM_thread_blocked_read_pingpong(benchmark::State& state) {
  SocketPair sp(state);
  if (sp.fd[0] < 0) return;
  const Libc& l = libc();
  cpu_set_t saved;
  ::pthread_getaffinity_np(::pthread_self(), sizeof saved, &saved);
  const int cpu = ::sched_getcpu();
  pin_to(cpu);
  const int mine = sp.fd[0], theirs = sp.fd[1];
  std::thread partner([&l, theirs, cpu] {
    pin_to(cpu);
    char c;
    while (l.read(theirs, &c, 1) == 1 && c == 'p') {
      if (l.write(theirs, &c, 1) != 1) return;
    }
  });
  char c = 'p';
  for (auto _ : state) {
    if (l.write(mine, &c, 1) != 1 || l.read(mine, &c, 1) != 1) {
      state.SkipWithError("socket I/O failed");
      break;
    }
  }
  const char stop = 's';
  if (l.write(mine, &stop, 1) != 1) std::perror("write");
  partner.join();
  ::pthread_setaffinity_np(::pthread_self(), sizeof saved, &saved);
  report_per(state, "ns_per_hop", 2);
}
BENCHMARK(BM_thread_blocked_read_pingpong)->Setup(setup)->Apply(fixed_iterations)->MeasureProcessCPUTime();

// The floor: one thread, both ends non-blocking in one level-triggered epoll set. Each
// hop is what the wake-up fundamentally needs: write, epoll_wait, read.
void BM_epoll_blocked_read_pingpong(benchmark::State& state) {
  SocketPair sp(state, SOCK_NONBLOCK);
  if (sp.fd[0] < 0) return;
  const Libc& l = libc();
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < 2; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = sp.fd[i];
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, sp.fd[i], &ev) != 0) state.SkipWithError("epoll_ctl failed");
  }
  // One end writes; the loop waits until the other end is readable and reads the byte.
  auto hop = [&](int from, int to) {
    epoll_event ev;
    char c;
    return l.write(from, "p", 1) == 1 && l.epoll_wait(ep, &ev, 1, -1) == 1 && ev.data.fd == to &&
           l.read(to, &c, 1) == 1;
  };
  for (auto _ : state) {
    if (!hop(sp.fd[0], sp.fd[1]) || !hop(sp.fd[1], sp.fd[0])) {
      state.SkipWithError("epoll ping-pong failed");
      break;
    }
  }
  ::close(ep);
  report_per(state, "ns_per_hop", 2);
}
BENCHMARK(BM_epoll_blocked_read_pingpong)->Setup(setup)->Apply(fixed_iterations)->MeasureProcessCPUTime();

}  // namespace
