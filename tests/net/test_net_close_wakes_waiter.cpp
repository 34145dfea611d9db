// Closing a socket under a waiting fiber: a fiber parked in read, write_all, accept or
// receive_from wakes with std::system_error(EBADF) when another fiber or a plain thread
// calls close() on that socket, promptly rather than at its deadline. And a socket that is
// closed, moved from or default-made is invalid: every operation on it throws EBADF
// instead of crashing or touching some other file.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::Socket;
using weft::net::Stream;
using weft::net::TcpListener;
using weft::net::TcpStream;
using weft::net::UdpSocket;
using weft::net::UnixListener;
using weft::net::UnixStream;

namespace {

// In a fiber: `wait` blocks on a socket that `close` closes 30 ms later, from another fiber
// or a plain thread. `wait` must end with EBADF, soon after the close.
void check_close_wakes(Where closer_where, const std::function<void()>& wait, const std::function<void()>& close) {
  stall_watch().reset();
  weft::run([&] {
    Peer closer(closer_where, [&] {
      weft::sleep_for(30ms);
      close();
    });
    int error = 0;
    const auto d = took([&] {
      try {
        wait();
        FAIL_CHECK("the wait returned instead of failing");
      } catch (const weft::net::timeout_error&) {
        FAIL_CHECK("the close did not wake the waiter: it ran into its deadline");
      } catch (const std::system_error& e) {
        error = e.code().value();
      }
    });
    closer.join();
    CHECK_MESSAGE(error == EBADF, "errno " << error);
    // Twice the usual allowance: no reference here, and two wake-ups lie between the
    // planned close and the waiter's return (the closer's sleep, then the waiter).
    CHECK_MESSAGE(d < 30ms + late_ok(2 * kLate), "woke after " << ms(d) << " ms");
  });
}

std::string temp_socket_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("weft-close-" + std::to_string(::getpid()) + "-" + name)).string();
}

}  // namespace

TEST_CASE("a fiber parked in read wakes with EBADF when the stream is closed") {
  for (Where closer : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(closer));
    {
      auto [a, b] = tcp_pair();
      char buf[16];
      check_close_wakes(closer, [&a = a, &buf] { (void)a.read(buf, sizeof buf, 5s); }, [&a = a] { a.close(); });
      CHECK_FALSE(a.is_open());
    }
    {
      // After a short read (the stream then waits for the reactor before trying the kernel).
      auto [a, b] = tcp_pair();
      b.write_all("x", 5s);
      char buf[16];
      weft::run([&a = a, &buf] { REQUIRE(a.read(buf, sizeof buf, 5s) == 1); });
      check_close_wakes(closer, [&a = a, &buf] { (void)a.read(buf, sizeof buf, 5s); }, [&a = a] { a.close(); });
    }
    {
      auto [a, b] = UnixStream::pair();
      char buf[16];
      check_close_wakes(closer, [&a = a, &buf] { a.read_exact(buf, sizeof buf, 5s); },
                        [&a = a] { static_cast<Socket&>(a).close(); });
    }
  }
}

TEST_CASE("a fiber parked in write_all wakes with EBADF when the stream is closed") {
  for (Where closer : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(closer));
    auto [a, b] = tcp_pair();
    const std::vector<std::byte> big(64u << 20);  // more than the kernel buffers: it waits
    check_close_wakes(closer, [&a = a, &big] { a.write_all(big, 5s); }, [&a = a] { a.close(); });
  }
}

TEST_CASE("a fiber parked in accept wakes with EBADF when the listener is closed") {
  for (Where closer : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(closer));
    {
      TcpListener l = TcpListener::bind({"127.0.0.1", 0});
      check_close_wakes(closer, [&l] { (void)l.accept(5s); }, [&l] { l.close(); });
      CHECK_FALSE(l.is_open());
    }
    {
      const std::string path = temp_socket_path("accept.sock");
      UnixListener l = UnixListener::bind(path);
      check_close_wakes(closer, [&l] { (void)l.accept(5s); }, [&l] { l.close(); });
      CHECK_FALSE(std::filesystem::exists(path));
    }
  }
}

TEST_CASE("a fiber parked in receive_from wakes with EBADF when the UDP socket is closed") {
  for (Where closer : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(closer));
    UdpSocket s = UdpSocket::bind({"127.0.0.1", 0});
    char buf[16];
    check_close_wakes(closer, [&s, &buf] { (void)s.receive_from(buf, sizeof buf, 5s); }, [&s] { s.close(); });
  }
}

TEST_CASE("a reader woken by a close does not read the socket that gets the fd number next") {
  weft::run([] {
    auto [a, b] = tcp_pair();
    const int number = a.fd();
    std::string got;
    int error = 0;
    auto reader = weft::spawn([&a = a, &got, &error] {
      char buf[16];
      try {
        got.assign(buf, a.read(buf, sizeof buf, 5s));
      } catch (const std::system_error& e) {
        error = e.code().value();
      }
    });
    weft::sleep_for(20ms);  // the reader is parked
    a.close();
    // Before the reader runs again, a new socket takes the number, with data to read.
    auto [c, d] = UnixStream::pair();
    const bool reused = c.fd() == number || d.fd() == number;
    UnixStream& same = c.fd() == number ? c : d;
    UnixStream& other = c.fd() == number ? d : c;
    other.write_all("someone else's", 5s);
    reader.get();
    CHECK_MESSAGE(error == EBADF, "errno " << error << ", read \"" << got << "\"");
    CHECK(got.empty());
    if (reused) {
      char buf[32];
      CHECK(same.read(buf, sizeof buf, 5s) == 14);  // still there for its owner
    } else {
      MESSAGE("the fd number was not reused this time");
    }
  });
}

namespace {

// Every operation of a closed stream throws system_error(EBADF).
void check_all_ebadf(Stream& s) {
  auto ebadf = [](const char* what, const std::function<void()>& op) {
    CAPTURE(what);
    try {
      op();
      FAIL_CHECK("no exception");
    } catch (const std::system_error& e) {
      CHECK_MESSAGE(e.code() == std::errc::bad_file_descriptor, e.what());
      CHECK_FALSE(weft::net::is_disconnect(e));
    }
  };
  char buf[8];
  ebadf("read", [&] { (void)s.read(buf, sizeof buf, 1s); });
  ebadf("read no deadline", [&] { (void)s.read(buf, sizeof buf); });
  ebadf("read_exact", [&] { s.read_exact(buf, sizeof buf, 1s); });
  ebadf("write", [&] { (void)s.write("x", 1, 1s); });
  ebadf("write_all", [&] { s.write_all("xyz", 1s); });
  ebadf("shutdown", [&] { s.shutdown(); });
  ebadf("peer_address", [&] { (void)s.peer_address(); });
  ebadf("local_address", [&] { (void)s.local_address(); });
  ebadf("set_option", [&] { s.set_option(SOL_SOCKET, SO_KEEPALIVE, 1); });
  ebadf("get_option", [&] { (void)s.get_option<int>(SOL_SOCKET, SO_TYPE); });
}

}  // namespace

TEST_CASE("operations on a closed, moved-from or default-made socket throw EBADF") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      {
        auto [a, b] = tcp_pair();
        char buf[8];
        b.write_all("x", 5s);
        REQUIRE(a.read(buf, sizeof buf, 5s) == 1);  // a short read first
        a.close();
        a.close();  // idempotent
        CHECK_FALSE(a.is_open());
        CHECK_FALSE(static_cast<bool>(a));
        CHECK(a.fd() == -1);
        check_all_ebadf(a);
        CHECK_THROWS_AS(a.set_nodelay(true), std::system_error);
      }
      {
        auto [a, b] = tcp_pair();
        const int fd = a.fd();
        TcpStream moved_to = std::move(a);
        CHECK_FALSE(a.is_open());
        CHECK(a.fd() == -1);
        CHECK(moved_to.fd() == fd);
        check_all_ebadf(a);
        // The new owner has the connection.
        moved_to.write_all("m", 5s);
        char buf[1];
        b.read_exact(buf, 1, 5s);
        CHECK(buf[0] == 'm');
        // Move assignment closes what the target held: its peer reads the end.
        auto [c, d] = tcp_pair();
        moved_to = std::move(c);
        CHECK(b.read(buf, 1, 5s) == 0);
        moved_to.write_all("n", 5s);
        d.read_exact(buf, 1, 5s);
        CHECK(buf[0] == 'n');
      }
      {
        TcpStream none;
        check_all_ebadf(none);
        UnixStream unix_none;
        check_all_ebadf(unix_none);
        auto [a, b] = UnixStream::pair();
        a.close();
        check_all_ebadf(a);
      }
      {
        TcpListener l = TcpListener::bind({"127.0.0.1", 0});
        l.close();
        CHECK_THROWS_AS((void)l.accept(1s), std::system_error);
        try {
          (void)l.accept(1s);
        } catch (const std::system_error& e) {
          CHECK(e.code() == std::errc::bad_file_descriptor);
        }
        TcpListener none;
        try {
          (void)none.accept();
        } catch (const std::system_error& e) {
          CHECK(e.code() == std::errc::bad_file_descriptor);
        }
        CHECK_THROWS_AS((void)none.local_address(), std::system_error);
      }
      {
        UdpSocket u = UdpSocket::bind({"127.0.0.1", 0});
        const auto addr = u.local_address();
        u.close();
        char buf[8];
        for (auto op : std::vector<std::function<void()>>{
                 [&] { u.send_to("x", 1, addr, 1s); },
                 [&] { (void)u.receive_from(buf, sizeof buf, 1s); },
                 [&] { (void)u.receive(buf, sizeof buf); },
                 [&] { u.send("x", 1, 1s); },
                 [&] { u.connect(addr); },
             }) {
          try {
            op();
            FAIL_CHECK("no exception");
          } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::bad_file_descriptor);
          }
        }
      }
    });
  }
}

TEST_CASE("release gives the fd up; adopt refuses what is not an open socket") {
  weft::run([] {
    auto [a, b] = tcp_pair();
    const int fd = a.release();
    CHECK_FALSE(a.is_open());
    CHECK(::fcntl(fd, F_GETFD) >= 0);  // still open: the caller owns it now
    TcpStream again = TcpStream::adopt(fd);
    again.write_all("r", 5s);
    char buf[1];
    b.read_exact(buf, 1, 5s);
    CHECK(buf[0] == 'r');

    try {
      (void)TcpStream::adopt(-1);
      FAIL_CHECK("adopted -1");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::bad_file_descriptor);
    }
    int p[2];
    REQUIRE(::pipe(p) == 0);
    try {
      (void)Socket::adopt(p[0]);
      FAIL_CHECK("adopted a pipe");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::not_a_socket);
    }
    ::close(p[0]);
    ::close(p[1]);
  });
}
