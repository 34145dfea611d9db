// splice, tee, vmsplice, sendfile, sendfile64, copy_file_range: a blocking call waits for
// data or room that comes later from another thread, SPLICE_F_NONBLOCK says EAGAIN at once,
// sendfile moves all it is asked for, errors as in libc; on a plain thread and in a fiber
// alike, with fds made either way (a fiber's are non-blocking underneath, where libc's
// call would have said EAGAIN before issue 16).
#include "conformance.hpp"
#include "fds.hpp"
#include "timings.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using weft_test::check_conforms;
using weft_test::FdPair;
using weft_test::Later;
using weft_test::Outcome;

WEFT_CONFORMS(splice)
WEFT_CONFORMS(tee)
WEFT_CONFORMS(vmsplice)
WEFT_CONFORMS(sendfile)
WEFT_CONFORMS(sendfile64)
WEFT_CONFORMS(copy_file_range)

namespace {

using std::chrono::milliseconds;

std::string r_text(long r) { return r < 0 ? "-1/" + std::string(std::strerror(errno)) : std::to_string(r); }

std::string drain(int fd, std::size_t n) {
  std::string s(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, s.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  s.resize(got);
  return s;
}

// Two pipes and a stream socket pair, as one setup.
struct Fds {
  FdPair p, q, s;
};

// A scratch file of `size` bytes ('a' + i % 26), open for reading and writing; removed at
// the end.
struct ScratchFile {
  int fd = -1;
  explicit ScratchFile(std::size_t size) {
    char name[] = "/tmp/weft-splice-XXXXXX";
    fd = ::mkstemp(name);
    ::unlink(name);
    std::vector<char> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
    if (::write(fd, bytes.data(), size) != static_cast<ssize_t>(size)) {
      ::close(fd);
      fd = -1;
    }
  }
  ~ScratchFile() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

TEST_CASE("splice and tee wait for data written later; SPLICE_F_NONBLOCK says EAGAIN; errors as libc") {
  const Outcome ref = check_conforms(
      [] { return Fds{weft_test::make_pipe(), weft_test::make_pipe(), weft_test::stream_pair()}; },
      [](Fds& f) {
        std::string d = "nonblock " + r_text(::splice(f.p.a, nullptr, f.s.b, nullptr, 16, SPLICE_F_NONBLOCK));
        {
          Later writer(milliseconds(30), [fd = f.p.b] { (void)::write(fd, "hello", 5); });
          d += ", pipe to socket " + r_text(::splice(f.p.a, nullptr, f.s.b, nullptr, 16, 0));
        }
        d += " " + drain(f.s.a, 5);
        {
          Later writer(milliseconds(30), [fd = f.s.a] { (void)::write(fd, "world", 5); });
          d += ", socket to pipe " + r_text(::splice(f.s.b, nullptr, f.q.b, nullptr, 16, 0));
        }
        d += " " + drain(f.q.a, 5);
        {
          Later writer(milliseconds(30), [fd = f.p.b] { (void)::write(fd, "copy", 4); });
          d += ", tee " + r_text(::tee(f.p.a, f.q.b, 16, 0));
        }
        d += " " + drain(f.q.a, 4) + " " + drain(f.p.a, 4);
        d += ", tee nonblock " + r_text(::tee(f.p.a, f.q.b, 16, SPLICE_F_NONBLOCK));
        d += ", bad fd " + r_text(::splice(-1, nullptr, f.q.b, nullptr, 1, 0));
        d += ", no pipe " + r_text(::splice(f.s.a, nullptr, f.s.b, nullptr, 1, 0));
        return Outcome{0, 0, d};
      });
  const std::string eagain = "-1/" + std::string(std::strerror(EAGAIN));
  CHECK(ref.detail == "nonblock " + eagain + ", pipe to socket 5 hello, socket to pipe 5 world, tee 4 copy copy, tee nonblock " +
                          eagain + ", bad fd -1/" + std::strerror(EBADF) + ", no pipe -1/" + std::strerror(EINVAL));
}

TEST_CASE("vmsplice into a full pipe waits for a reader; with SPLICE_F_NONBLOCK says EAGAIN") {
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); },
                                     [](FdPair& p) {
                                       // Fill the pipe (64 KiB) through the shim's own write.
                                       std::vector<char> fill(65536, 'f');
                                       (void)::write(p.b, fill.data(), fill.size());
                                       char msg[] = "vm";
                                       iovec iov{msg, 2};
                                       std::string d = "nonblock " + r_text(::vmsplice(p.b, &iov, 1, SPLICE_F_NONBLOCK));
                                       {
                                         Later reader(milliseconds(30), [fd = p.a] { (void)drain(fd, 65536); });
                                         d += ", waits " + r_text(::vmsplice(p.b, &iov, 1, 0));
                                       }
                                       d += " " + drain(p.a, 2);
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "nonblock -1/" + std::string(std::strerror(EAGAIN)) + ", waits 2 vm");
}

TEST_CASE("sendfile and sendfile64 move all of a 1 MiB file into a socket a thread drains; copy_file_range copies") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); },
                                     [](FdPair& s) {
                                       ScratchFile file(1 << 20);
                                       std::string received;
                                       std::thread reader([&] { received = drain(s.a, 2 << 20); });
                                       off_t at = 0;
                                       std::string d = "sendfile " + r_text(::sendfile(s.b, file.fd, &at, 1 << 20));
                                       d += " offset " + std::to_string(at);
                                       off64_t at64 = 0;
                                       d += ", sendfile64 " + r_text(::sendfile64(s.b, file.fd, &at64, 1 << 20));
                                       ::shutdown(s.b, SHUT_WR);
                                       reader.join();
                                       d += ", received " + std::to_string(received.size()) + " " + received.substr(0, 3);

                                       ScratchFile copy(0);
                                       off64_t from = 26, to = 0;
                                       d += "; copy_file_range " +
                                            r_text(::copy_file_range(file.fd, &from, copy.fd, &to, 1000, 0));
                                       char head[3] = {};
                                       (void)::pread(copy.fd, head, 3, 0);
                                       d += " " + std::string(head, 3) + " offsets " + std::to_string(from) + " " +
                                            std::to_string(to);
                                       d += ", bad flags " + r_text(::copy_file_range(file.fd, &from, copy.fd, &to, 1, 1));
                                       return Outcome{0, 0, d};
                                     });
  CHECK(ref.detail == "sendfile 1048576 offset 1048576, sendfile64 1048576, received 2097152 abc; copy_file_range 1000 abc "
                      "offsets 1026 1000, bad flags -1/" + std::string(std::strerror(EINVAL)));
}
