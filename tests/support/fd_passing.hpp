// Passing a descriptor over a Unix-domain socket (SCM_RIGHTS), for tests of fds a process
// received rather than made.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>
#include <string>

namespace weft_test {

// Sends `text` on socket fd with `passed` in SCM_RIGHTS; sendmsg's result.
inline ssize_t send_with_fd(int fd, const std::string& text, int passed) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &passed, sizeof passed);
  return ::sendmsg(fd, &m, 0);
}

// Receives up to 32 bytes on socket fd; the fd passed with them, or -1, in *passed, and
// recvmsg's msg_flags in *flags if given. recvmsg's result.
inline ssize_t recv_with_fd(int fd, std::string* text, int* passed, int* flags = nullptr) {
  char buf[32];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd, &m, 0);
  *passed = -1;
  if (n < 0) return n;
  text->assign(buf, static_cast<std::size_t>(n));
  if (flags != nullptr) *flags = m.msg_flags;
  const cmsghdr* c = CMSG_FIRSTHDR(&m);
  if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    std::memcpy(passed, CMSG_DATA(c), sizeof *passed);
  }
  return n;
}

}  // namespace weft_test
