// Unix-domain streams: UnixListener/UnixStream round trips, the socket file removed when
// the listener closes (and only the file it made), EADDRINUSE for a path that exists,
// abstract names, UnixStream::pair(), ENOENT for a missing path, and connect() waiting
// while the listener's queue is full. In fibers and on plain threads.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::ShutdownHow;
using weft::net::SocketAddress;
using weft::net::UnixListener;
using weft::net::UnixStream;

namespace {

// A fresh directory for socket files, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft-net-unix-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_socket_file(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

int bind_error(const std::string& path) {
  try {
    UnixListener l = UnixListener::bind(path);
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

void round_trip(UnixStream& a, UnixStream& b) {
  a.write_all("ping", 5s);
  char buf[4];
  b.read_exact(buf, 4, 5s);
  CHECK(std::string(buf, 4) == "ping");
  b.write_all("pong", 5s);
  a.read_exact(buf, 4, 5s);
  CHECK(std::string(buf, 4) == "pong");
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

TEST_CASE("a round trip over UnixListener and UnixStream") {
  TempDir dir;
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [&, where] {
      const std::string path = dir / ("rt-" + where_name(where) + ".sock");
      UnixListener listener = UnixListener::bind(path);
      CHECK(is_socket_file(path));
      CHECK(listener.local_address() == SocketAddress::unix_path(path));
      CHECK(listener.local_address().to_string() == path);
      Peer server(where, [&] {
        UnixStream conn = listener.accept(5s);
        char buf[5];
        conn.read_exact(buf, 5, 5s);
        CHECK(std::string(buf, 5) == "hello");
        conn.write_all("world", 5s);
        CHECK(conn.read(buf, sizeof buf, 5s) == 0);  // the client shut its side
        CHECK(conn.peer_address().to_string().empty());  // an unnamed client
      });
      UnixStream client = UnixStream::connect(path, 5s);
      CHECK(client.peer_address().to_string() == path);
      client.write_all("hello", 5s);
      char buf[5];
      client.read_exact(buf, 5, 5s);
      CHECK(std::string(buf, 5) == "world");
      client.shutdown(ShutdownHow::write);
      server.join();
      CHECK(client.read(buf, sizeof buf, 5s) == 0);
    });
  }
}

TEST_CASE("the socket file is removed when its listener closes, and not before") {
  TempDir dir;
  const std::string path = dir / "close.sock";
  {
    UnixListener l = UnixListener::bind(path);
    CHECK(is_socket_file(path));
    l.close();
    CHECK_FALSE(exists(path));
    l.close();  // idempotent
    CHECK_FALSE(l.is_open());
  }
  {
    UnixListener l = UnixListener::bind(path);  // the path is free again
    CHECK(is_socket_file(path));
  }
  CHECK_FALSE(exists(path));  // by the destructor

  // Moving hands the file over: the moved-from listener's end does not remove it.
  {
    UnixListener moved = UnixListener::bind(path);
    UnixListener owner = std::move(moved);
    CHECK_FALSE(moved.is_open());
    moved.close();
    CHECK(is_socket_file(path));
    {
      UnixListener gone = std::move(owner);
      CHECK(is_socket_file(path));
      weft::run([&] {
        UnixStream c = UnixStream::connect(path, 5s);
        UnixStream s = gone.accept(5s);
        round_trip(c, s);
      });
    }
    CHECK_FALSE(exists(path));
  }
  // Move assignment closes the target's listener (and removes its file) first.
  {
    const std::string other = dir / "other.sock";
    UnixListener a = UnixListener::bind(path);
    UnixListener b = UnixListener::bind(other);
    a = std::move(b);
    CHECK_FALSE(exists(path));
    CHECK(is_socket_file(other));
    CHECK(a.local_address().to_string() == other);
  }
  CHECK_FALSE(exists(dir / "other.sock"));
  // Connecting after the close: nothing there.
  try {
    (void)UnixStream::connect(path, 5s);
    FAIL_CHECK("connected to a closed listener's path");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::no_such_file_or_directory);
  }
}

TEST_CASE("binding a path that exists throws EADDRINUSE and leaves the file alone") {
  TempDir dir;
  // A regular file.
  const std::string file = dir / "taken";
  std::ofstream(file) << "keep me";
  CHECK(bind_error(file) == EADDRINUSE);
  REQUIRE(exists(file));
  std::ifstream in(file);
  std::string content;
  std::getline(in, content);
  CHECK(content == "keep me");

  // Another listener's socket: it stays, and still works.
  const std::string path = dir / "live.sock";
  UnixListener first = UnixListener::bind(path);
  CHECK(bind_error(path) == EADDRINUSE);
  CHECK(is_socket_file(path));
  weft::run([&] {
    UnixStream c = UnixStream::connect(path, 5s);
    UnixStream s = first.accept(5s);
    round_trip(c, s);
  });
  first.close();
  CHECK_FALSE(exists(path));
}

TEST_CASE("abstract names: no file, a round trip, EADDRINUSE while bound, free once closed") {
  const std::string name = "@weft-test-" + std::to_string(::getpid());
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [&, where] {
      UnixListener listener = UnixListener::bind(name);
      CHECK(listener.local_address().to_string() == name);
      CHECK(listener.local_address() == SocketAddress::unix_path(name));
      CHECK_FALSE(exists(name));  // no file named "@..." in the working directory
      CHECK(bind_error(name) == EADDRINUSE);
      Peer server(where, [&] {
        UnixStream s = listener.accept(5s);
        char buf[4];
        s.read_exact(buf, 4, 5s);
        s.write_all(std::string_view(buf, 4), 5s);
      });
      UnixStream c = UnixStream::connect(name, 5s);
      CHECK(c.peer_address().to_string() == name);
      c.write_all("echo", 5s);
      char buf[4];
      c.read_exact(buf, 4, 5s);
      CHECK(std::string(buf, 4) == "echo");
      server.join();
      listener.close();
      // The name is free again at once (there is no file to remove).
      UnixListener again = UnixListener::bind(name);
      CHECK(again.is_open());
    });
  }
}

TEST_CASE("UnixStream::pair() gives two connected streams") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    weft::run([where] {
      auto [a, b] = UnixStream::pair();
      CHECK(a.is_open());
      CHECK(b.is_open());
      CHECK(a.peer_address().to_string().empty());
      round_trip(a, b);
      // b on another fiber or a plain thread, a here.
      Peer other(where, [&b = b] {
        char buf[64];
        std::string got;
        for (std::size_t n; (n = b.read(buf, sizeof buf, 5s)) > 0;) got.append(buf, n);
        CHECK(got == std::string(10000, 'z'));
        b.write_all("done", 5s);
      });
      a.write_all(std::string(10000, 'z'), 5s);
      a.shutdown(ShutdownHow::write);
      char buf[4];
      a.read_exact(buf, 4, 5s);
      CHECK(std::string(buf, 4) == "done");
      other.join();
    });
  }
}

TEST_CASE("connecting to a missing path throws ENOENT; to a file that is no socket, ECONNREFUSED") {
  TempDir dir;
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [&] {
      const std::string missing = dir / "missing.sock";
      try {
        (void)UnixStream::connect(missing, 5s);
        FAIL_CHECK("connected to nothing");
      } catch (const weft::net::timeout_error& e) {
        FAIL_CHECK("timed out: " << e.what());
      } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::no_such_file_or_directory);
        CHECK_MESSAGE(std::string(e.what()).find(missing) != std::string::npos, e.what());
      }
      const std::string file = dir / "plain-file";
      std::ofstream(file) << "x";
      try {
        (void)UnixStream::connect(file, 5s);
        FAIL_CHECK("connected to a regular file");
      } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::connection_refused);
      }
      CHECK_THROWS_AS((void)UnixStream::connect("@weft-test-nobody-" + std::to_string(::getpid()), 5s),
                      std::system_error);
    });
  }
}

TEST_CASE("connect waits while the listener's queue is full, and gets in once it accepts") {
  TempDir dir;
  stall_watch().reset();
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [&, where] {
      const std::string path = dir / ("full-" + where_name(where) + ".sock");
      UnixListener listener = UnixListener::bind(path, 0);
      // Backlog 0 takes one connection; the next connect finds the queue full.
      UnixStream queued = UnixStream::connect(path, 5s);
      // Nobody accepts: the deadline ends the wait, after about its length.
      const auto ref = took([] { weft::sleep_for(200ms); });
      const auto cpu_before = thread_cpu_time();
      const auto d = took([&] {
        CHECK_THROWS_AS((void)UnixStream::connect(path, 200ms), weft::net::timeout_error);
      });
      const auto cpu = thread_cpu_time() - cpu_before;
      MESSAGE("connect(200ms) to a full queue: " << ms(d) << " ms, " << ms(cpu) << " ms of CPU; sleep_for(200ms) "
                                                 << ms(ref) << " ms");
      CHECK(d >= 200ms);
      CHECK(d < ref + late_ok());
      if (where == Where::thread) CHECK_MESSAGE(cpu < d / 4, "the plain thread spun instead of blocking");
      // Someone accepts after 100 ms: the waiting connect gets in then, not at its deadline.
      Peer acceptor(where, [&] {
        weft::sleep_for(100ms);
        UnixStream first = listener.accept(5s);
        round_trip(first, queued);
        UnixStream second;
        try {
          second = listener.accept(3s);
        } catch (const weft::net::timeout_error&) {
          return;  // the connect below failed, and says so
        }
        char buf[4];
        second.read_exact(buf, 4, 5s);
        second.write_all(std::string_view(buf, 4), 5s);
      });
      UnixStream late;
      const auto waited = took([&] {
        try {
          late = UnixStream::connect(path, 3s);
        } catch (const weft::net::timeout_error&) {
          FAIL_CHECK("connect was not woken when the listener's queue had room again");
        }
      });
      MESSAGE("connect to a full queue, accepted after 100 ms: in after " << ms(waited) << " ms");
      CHECK(waited < 100ms + 500ms * WEFT_TEST_SLACK);
      if (late.is_open()) {
        late.write_all("late", 5s);
        char buf[4];
        late.read_exact(buf, 4, 5s);
        CHECK(std::string(buf, 4) == "late");
      }
      acceptor.join();
    });
  }
}
