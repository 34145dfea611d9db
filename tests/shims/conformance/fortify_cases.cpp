// __read_chk, __recv_chk, __recvfrom_chk: what _FORTIFY_SOURCE turns read, recv and
// recvfrom into when the buffer's size is known. Called directly with the true buffer
// size, they give the same results as read, recv and recvfrom, and park a fiber the same.
#include "conformance.hpp"
#include "fds.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <string>

using weft_test::check_conforms;
using weft_test::FdPair;
using weft_test::Outcome;
using weft_test::outcome;

WEFT_CONFORMS(__read_chk)
WEFT_CONFORMS(__recv_chk)
WEFT_CONFORMS(__recvfrom_chk)

// glibc declares these only under _FORTIFY_SOURCE.
extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, struct sockaddr* addr,
                       socklen_t* len);
}

namespace {

using namespace std::chrono_literals;

std::thread write_later(int fd, std::string text) {
  return std::thread([fd, text = std::move(text)] {
    std::this_thread::sleep_for(30ms);
    (void)::write(fd, text.data(), text.size());
  });
}

std::string text(const char* buf, ssize_t n) { return std::string(buf, n > 0 ? n : 0); }

}  // namespace

TEST_CASE("__read_chk: data there at once, then data written later by another thread") {
  const Outcome ref = check_conforms([] { return weft_test::make_pipe(); }, [](FdPair& p) {
    (void)::write(p.b, "abc", 3);
    char buf[16];
    const ssize_t n1 = __read_chk(p.a, buf, sizeof buf, sizeof buf);
    const std::string first = text(buf, n1);
    std::thread writer = write_later(p.b, "late");
    const ssize_t n2 = __read_chk(p.a, buf, sizeof buf, sizeof buf);
    writer.join();
    return outcome(n2, first + " then " + text(buf, n2));
  });
  CHECK(ref == Outcome{4, 0, "abc then late"});
}

TEST_CASE("__read_chk: EOF after the writer closes; a read of less than the buffer") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); }, [](FdPair& p) {
    (void)::write(p.b, "abcdef", 6);
    char buf[16];
    const ssize_t n1 = __read_chk(p.a, buf, 2, sizeof buf);
    const std::string first = text(buf, n1);
    ::close(std::exchange(p.b, -1));
    const ssize_t n2 = __read_chk(p.a, buf, sizeof buf, sizeof buf);
    const std::string second = text(buf, n2);
    const ssize_t eof = __read_chk(p.a, buf, sizeof buf, sizeof buf);
    return outcome(eof, first + " " + second);
  });
  CHECK(ref == Outcome{0, 0, "ab cdef"});
}

TEST_CASE("__recv_chk: MSG_PEEK, data arriving later, and MSG_DONTWAIT's EAGAIN") {
  const Outcome ref = check_conforms([] { return weft_test::stream_pair(); }, [](FdPair& p) {
    char buf[16];
    const Outcome none = outcome(__recv_chk(p.a, buf, sizeof buf, sizeof buf, MSG_DONTWAIT));
    std::thread writer = write_later(p.b, "peekaboo");
    const ssize_t peeked = __recv_chk(p.a, buf, 4, sizeof buf, MSG_PEEK);
    writer.join();
    const std::string first = text(buf, peeked);
    const ssize_t n = __recv_chk(p.a, buf, sizeof buf, sizeof buf, 0);
    return outcome(n, std::to_string(none.result) + " " + std::strerror(none.err) + "; " + first + " " +
                          text(buf, n));
  });
  CHECK(ref == Outcome{8, 0, "-1 " + std::string(std::strerror(EAGAIN)) + "; peek peekaboo"});
}

TEST_CASE("__recvfrom_chk: a datagram arriving later, with its (unnamed) sender's address") {
  const Outcome ref = check_conforms([] { return weft_test::datagram_pair(); }, [](FdPair& p) {
    std::thread writer = write_later(p.b, "dgram");
    char buf[16];
    sockaddr_un from{};
    from.sun_family = 0x7777;
    socklen_t len = sizeof from;
    const ssize_t n = __recvfrom_chk(p.a, buf, sizeof buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    writer.join();
    // A datagram that does not fit is truncated, as by recvfrom.
    (void)::send(p.b, "0123456789", 10, 0);
    char small[4];
    socklen_t len2 = sizeof from;
    const ssize_t cut = __recvfrom_chk(p.a, small, sizeof small, sizeof small, 0, reinterpret_cast<sockaddr*>(&from), &len2);
    return outcome(n, text(buf, n) + " len " + std::to_string(len) + "; " + std::to_string(cut) + " " +
                          text(small, cut));
  });
  // An unnamed AF_UNIX sender: the kernel reports an address of length 0.
  CHECK(ref == Outcome{5, 0, "dgram len 0; 4 0123"});
}
