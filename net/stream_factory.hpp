// Wrapping an fd that weft::net has already made non-blocking and adopted (an accepted
// connection) without asking the kernel about it again, as the public adopt() must.
#pragma once

#include <weft/net/tcp.hpp>
#include <weft/net/unix.hpp>

namespace weft::net::detail {

struct StreamFactory {
  template <class S>
  static S from_managed_fd(int fd) noexcept {
    return S(fd);
  }
};

}  // namespace weft::net::detail
