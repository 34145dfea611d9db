// A pipe owned by a test: closed at the end of its scope.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

namespace weft_test {

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { REQUIRE(::pipe(fds) == 0); }
  ~Pipe() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int in() const { return fds[0]; }   // the read end
  int out() const { return fds[1]; }  // the write end
};

}  // namespace weft_test
