// Counting a process's open file descriptors, to tell a leak from a clean finish.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace weft_test {

// Open descriptors of `pid` (this process by default), from /proc; -1 if unreadable.
inline long open_fds(pid_t pid = ::getpid()) {
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

}  // namespace weft_test
