// Small RAII holders of fds for conformance cases.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace weft_test {

// Two connected descriptors (socketpair or pipe); closed on destruction unless released.
struct FdPair {
  int a = -1;
  int b = -1;

  FdPair() = default;
  FdPair(int x, int y) : a(x), b(y) {}
  FdPair(FdPair&& o) noexcept : a(std::exchange(o.a, -1)), b(std::exchange(o.b, -1)) {}
  FdPair& operator=(FdPair&& o) noexcept {
    std::swap(a, o.a);
    std::swap(b, o.b);
    return *this;
  }
  ~FdPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

inline FdPair stream_pair(int extra_type = 0) {
  int sv[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | extra_type, 0, sv) != 0) return {};
  return {sv[0], sv[1]};
}

inline FdPair datagram_pair() {
  int sv[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) return {};
  return {sv[0], sv[1]};
}

inline FdPair make_pipe(int flags = 0) {
  int p[2] = {-1, -1};
  if (::pipe2(p, flags) != 0) return {};
  return {p[0], p[1]};
}

}  // namespace weft_test
