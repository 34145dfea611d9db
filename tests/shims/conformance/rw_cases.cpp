// read, readv, write, writev, recv*, send*: partial transfers, EOF, EPIPE, ECONNRESET,
// user-set O_NONBLOCK, SO_RCVTIMEO/SO_SNDTIMEO.
#include "conformance.hpp"
#include "fds.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/uio.h>

#include <chrono>
#include <string>

using weft_test::check_conforms;
using weft_test::FdPair;
using weft_test::Outcome;
using weft_test::outcome;

WEFT_CONFORMS(read)
WEFT_CONFORMS(readv)
WEFT_CONFORMS(write)
WEFT_CONFORMS(writev)

TEST_CASE("read: a short read returns what is there, then EOF after the peer closes") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       (void)::write(p.b, "abc", 3);
                                       char buf[16];
                                       const ssize_t n = ::read(p.a, buf, sizeof buf);
                                       ::close(std::exchange(p.b, -1));
                                       const ssize_t eof = ::read(p.a, buf, sizeof buf);
                                       return outcome(n, std::string(buf, n > 0 ? n : 0) +
                                                             " then " + std::to_string(eof));
                                     });
  CHECK(ref == Outcome{3, 0, "abc then 0"});
}

TEST_CASE("read: blocks until a writer on another thread writes") {
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); },
                                     [](FdPair& p) {
                                       std::thread writer([fd = p.b] {
                                         std::this_thread::sleep_for(std::chrono::milliseconds(30));
                                         (void)::write(fd, "late", 4);
                                       });
                                       char buf[16];
                                       const ssize_t n = ::read(p.a, buf, sizeof buf);
                                       writer.join();
                                       return outcome(n, std::string(buf, n > 0 ? n : 0));
                                     });
  CHECK(ref == Outcome{4, 0, "late"});
}

TEST_CASE("read: O_NONBLOCK set by the user gives EAGAIN at once, and F_GETFL shows it") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       const int before = ::fcntl(p.a, F_GETFL) & O_NONBLOCK;
                                       ::fcntl(p.a, F_SETFL, ::fcntl(p.a, F_GETFL) | O_NONBLOCK);
                                       const int after = ::fcntl(p.a, F_GETFL) & O_NONBLOCK;
                                       char buf[4];
                                       const ssize_t n = ::read(p.a, buf, sizeof buf);
                                       return outcome(n, "flag " + std::to_string(before != 0) +
                                                             "->" + std::to_string(after != 0));
                                     });
  CHECK(ref == Outcome{-1, EAGAIN, "flag 0->1"});
}

TEST_CASE("readv/writev: scattered and gathered bytes arrive in order") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       char one[] = "hello, ", two[] = "world";
                                       iovec out[2] = {{one, 7}, {two, 5}};
                                       const ssize_t w = ::writev(p.b, out, 2);
                                       char x[5], y[16];
                                       iovec in[2] = {{x, 5}, {y, sizeof y}};
                                       const ssize_t r = ::readv(p.a, in, 2);
                                       return outcome(w == 12 ? r : -100,
                                                      std::string(x, 5) + "|" + std::string(y, r > 5 ? r - 5 : 0));
                                     });
  CHECK(ref == Outcome{12, 0, "hello|, world"});
}

TEST_CASE("write: a blocking write of more than the buffer holds completes once read") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& p) {
                                       const std::string big(4 << 20, 'w');
                                       std::size_t got = 0;
                                       std::thread reader([&, fd = p.a] {
                                         char buf[65536];
                                         for (;;) {
                                           const ssize_t n = ::read(fd, buf, sizeof buf);
                                           if (n <= 0) break;
                                           got += static_cast<std::size_t>(n);
                                         }
                                       });
                                       const ssize_t w = ::write(p.b, big.data(), big.size());
                                       ::shutdown(p.b, SHUT_WR);
                                       reader.join();
                                       return outcome(w, "read " + std::to_string(got));
                                     });
  CHECK(ref == Outcome{4 << 20, 0, "read " + std::to_string(4 << 20)});
}

TEST_CASE("write: EPIPE once the reader is gone (SIGPIPE ignored)") {
  ::signal(SIGPIPE, SIG_IGN);
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); },
                                     [](FdPair& p) {
                                       ::close(std::exchange(p.a, -1));
                                       return outcome(::write(p.b, "x", 1));
                                     });
  CHECK(ref == Outcome{-1, EPIPE, ""});
}
