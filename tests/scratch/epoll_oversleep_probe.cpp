// NOT A TEST (not built). Shows, without weft, the kernel quirk that
// support/epoll_oversleep.hpp allows for: two plain threads each loop on epoll_pwait2 with
// a 2 ms timeout (as weft's workers wait for their next timer) for 20 s and print every
// gap of 50 ms or more. On the 2-vCPU Firecracker VM of 2026-12 (kernel 6.18.44-fc) it
// printed 25 gaps of 100-105 ms; with epoll_wait(2 ms) 3; with nanosleep(2 ms) none.
//   g++ -O2 -pthread tests/scratch/epoll_oversleep_probe.cpp -o /tmp/probe && /tmp/probe
#include <chrono>
#include <cstdio>
#include <thread>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <ctime>
int main() {
  using C = std::chrono::steady_clock;
  auto run = [](int id) {
    int ep = epoll_create1(0);
    int efd = eventfd(0, EFD_NONBLOCK);
    epoll_event ev{EPOLLIN, {}}; epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    epoll_event ev2{EPOLLIN | EPOLLET, {}}; epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev2);
    auto end = C::now() + std::chrono::seconds(20);
    auto last = C::now();
    int big = 0; long long worst = 0;
    epoll_event out[8];
    while (C::now() < end) {
      timespec ts{0, 2000000}; syscall(SYS_epoll_pwait2, ep, out, 8, &ts, nullptr, 0);
      auto now = C::now();
      long long g = std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count();
      if (g > worst) worst = g;
      if (g >= 50) { ++big; std::printf("thread %d gap %lld ms\n", id, g); }
      last = now;
    }
    std::printf("epoll_pwait2 thread %d worst %lld big %d\n", id, worst, big);
  };
  std::thread a(run, 1), b(run, 2);
  a.join(); b.join();
}
