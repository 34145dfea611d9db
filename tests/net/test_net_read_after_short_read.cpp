// Stream's drained_ hint (include/weft/net/socket.hpp): after a read that returned less
// than it asked for, a fiber's next read waits for the reactor's next edge before asking
// the kernel. That must never lose data nor the end of the stream: data that is already
// there, data that comes later (from a fiber or a plain thread, at once or after a delay),
// a half-close, data followed by a close, many small request/response rounds on one
// worker. Every read has a deadline, so a lost wake-up fails as timeout_error instead of
// hanging. Fibers share one worker (WEFT_THREADS=1 too), as a server's would.
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/fd_passing.hpp"
#include "support/net_places.hpp"
#include "support/one_worker.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::ShutdownHow;
using weft::net::Stream;
using weft::net::TcpStream;
using weft::net::UnixStream;

namespace {

enum class Kind { tcp, unix_pair };

// Two connected streams: {reader's end, writer's end}, as Stream objects of either kind.
struct Ends {
  std::unique_ptr<Stream> reader;
  std::unique_ptr<Stream> writer;
};

Ends make_ends(Kind kind) {
  if (kind == Kind::unix_pair) {
    auto [a, b] = UnixStream::pair();
    return {std::make_unique<UnixStream>(std::move(a)), std::make_unique<UnixStream>(std::move(b))};
  }
  auto [client, server] = tcp_pair();
  return {std::make_unique<TcpStream>(std::move(server)), std::make_unique<TcpStream>(std::move(client))};
}

std::string kind_name(Kind k) { return k == Kind::tcp ? "tcp" : "unix pair"; }

// One read that must return data: a short read first, so the hint is set.
std::string read_some(Stream& s, weft::Deadline deadline = 5s) {
  char buf[64];
  const std::size_t n = s.read(buf, sizeof buf, deadline);
  return std::string(buf, n);
}

// Reads until `want` bytes came, each read a short one (the buffer is larger).
std::string read_total(Stream& s, std::size_t want, weft::Deadline deadline = 5s) {
  std::string got;
  while (got.size() < want) {
    const std::string more = read_some(s, deadline);
    if (more.empty()) break;
    got += more;
  }
  return got;
}

// The short read that sets the hint: "ab" into a larger buffer, once it has arrived.
void short_read(Ends& e) {
  e.writer->write_all("ab", 5s);
  wait_queued(e.reader->fd(), 2);
  CHECK(read_some(*e.reader) == "ab");
}

// body(ends, where, delay) in a fiber, on fresh ends of each kind, with the other party in
// a fiber or on a plain thread, acting at once or after a delay (the reader parked by then).
template <class F>
void for_each_case(F body) {
  for (Kind kind : {Kind::tcp, Kind::unix_pair}) {
    for (Where where : {Where::fiber, Where::thread}) {
      for (std::chrono::milliseconds delay : {0ms, 20ms}) {
        CAPTURE(kind_name(kind));
        CAPTURE(where_name(where));
        CAPTURE(delay.count());
        weft::run([&] {
          Ends e = make_ends(kind);
          body(e, where, delay);
        });
      }
    }
  }
}

}  // namespace

TEST_CASE("after a short read, data that is already there is read") {
  weft_test::one_worker();
  for (Kind kind : {Kind::tcp, Kind::unix_pair}) {
    CAPTURE(kind_name(kind));
    weft::run([kind] {
      Ends e = make_ends(kind);
      // Several rounds: the first finds the fd not yet watched by the reactor, the later
      // ones find it watched and its edges already consumed.
      for (int round = 0; round < 5; ++round) {
        CAPTURE(round);
        short_read(e);
        e.writer->write_all("cdef", 5s);
        wait_queued(e.reader->fd(), 4);
        CHECK(read_total(*e.reader, 4) == "cdef");
        // And once more after waiting for the reactor on an empty queue.
        Peer later(Where::fiber, [&] {
          weft::sleep_for(5ms);
          e.writer->write_all("gh", 5s);
        });
        CHECK(read_total(*e.reader, 2) == "gh");
        later.join();
      }
    });
  }
}

TEST_CASE("after a short read, data that comes later from a fiber or a plain thread is read") {
  weft_test::one_worker();
  for_each_case([](Ends& e, Where where, std::chrono::milliseconds delay) {
    for (int round = 0; round < 5; ++round) {
      CAPTURE(round);
      short_read(e);
      Peer writer(where, [&] {
        if (delay > 0ms) weft::sleep_for(delay);
        e.writer->write_all("cdef", 5s);
      });
      std::string got;
      try {
        got = read_total(*e.reader, 4);
      } catch (const weft::net::timeout_error&) {
        FAIL("the read after a short read missed data that came later");
      }
      CHECK(got == "cdef");
      writer.join();
    }
  });
}

TEST_CASE("after a short read, the peer's half-close is read as the end of the stream") {
  weft_test::one_worker();
  for_each_case([](Ends& e, Where where, std::chrono::milliseconds delay) {
    short_read(e);
    Peer closer(where, [&] {
      if (delay > 0ms) weft::sleep_for(delay);
      e.writer->shutdown(ShutdownHow::write);
    });
    char buf[64];
    std::size_t n = 99;
    CHECK_NOTHROW(n = e.reader->read(buf, sizeof buf, 5s));
    CHECK(n == 0);
    closer.join();
    // The other direction still works after the half-close.
    e.reader->write_all("ok", 5s);
    CHECK(read_total(*e.writer, 2) == "ok");
  });
}

TEST_CASE("after a short read, data followed by a close is read, then the end") {
  weft_test::one_worker();
  for_each_case([](Ends& e, Where where, std::chrono::milliseconds delay) {
    short_read(e);
    Peer closer(where, [&] {
      if (delay > 0ms) weft::sleep_for(delay);
      e.writer->write_all("cdef", 5s);
      e.writer->close();
    });
    std::string got;
    CHECK_NOTHROW(got = read_some(*e.reader, 2s));  // one write: it comes whole
    CHECK(got == "cdef");
    // Short again: then the end of the stream, which came with the data.
    char buf[8];
    std::size_t n = 99;
    try {
      n = e.reader->read(buf, sizeof buf, 2s);
    } catch (const weft::net::timeout_error&) {
      FAIL_CHECK("the end of the stream, queued behind the data, was never read");
    }
    CHECK(n == 0);
    closer.join();
  });
}

namespace {

// `rounds` requests of 8 bytes and their 8-byte replies, every read a short one (into a
// 64-byte buffer), so the hint is set before nearly every read on both sides.
void ping_pong(Where server_where, Kind kind, int rounds) {
  Ends e = make_ends(kind);
  std::atomic<int> served{0};
  Peer server(server_where, [&] {
    Stream& s = *e.reader;
    for (int i = 0; i < rounds; ++i) {
      const std::string req = read_total(s, 8);
      if (req.size() != 8 || req.substr(0, 3) != "req") FAIL("server got \"" << req << "\" in round " << i);
      s.write_all("rep" + req.substr(3), 5s);
      served.fetch_add(1);
    }
    char buf[8];
    CHECK(s.read(buf, sizeof buf, 5s) == 0);
  });
  Stream& c = *e.writer;
  int good = 0;
  for (int i = 0; i < rounds; ++i) {
    char req[9];
    std::snprintf(req, sizeof req, "req%05u", static_cast<unsigned>(i) % 100000u);
    c.write_all(std::string_view(req, 8), 5s);
    std::string rep;
    try {
      rep = read_total(c, 8);
    } catch (const weft::net::timeout_error&) {
      FAIL("round " << i << ": no reply within 5 s");
    }
    if (rep == "rep" + std::string(req + 3, 5)) ++good;
  }
  c.shutdown(ShutdownHow::write);
  server.join();
  CHECK(good == rounds);
  CHECK(served.load() == rounds);
}

}  // namespace

TEST_CASE("many small request/response rounds between two fibers on one worker") {
  weft_test::one_worker();
  for (Kind kind : {Kind::tcp, Kind::unix_pair}) {
    CAPTURE(kind_name(kind));
    weft::run([kind] { ping_pong(Where::fiber, kind, 20000); });
  }
}

TEST_CASE("many small request/response rounds between a fiber and a plain thread") {
  weft_test::one_worker();
  for (Kind kind : {Kind::tcp, Kind::unix_pair}) {
    CAPTURE(kind_name(kind));
    // A fiber as the client, a plain thread as the server...
    weft::run([kind] { ping_pong(Where::thread, kind, 5000); });
    // ...and this plain thread as the client, a fiber as the server.
    REQUIRE_FALSE(weft::in_fiber());
    ping_pong(Where::fiber, kind, 5000);
  }
}

namespace {

// The reader parks in read() on an empty stream; then, while the calling fiber keeps the
// only worker busy (so the reactor is not polled), `send_all` queues several pieces from a
// plain thread, and their edges come out of epoll as one. The reader wakes, gets a first, short, piece, and must still get
// the rest: the kernel may end a read early with data still queued.
std::string read_after_coalesced_edges(Stream& reader, int queued_at_least,
                                       std::size_t want, const std::function<void()>& send_all) {
  std::string got;
  std::exception_ptr error;
  auto r = weft::spawn([&] {
    try {
      got = read_some(reader, 5s);  // parks: nothing is there yet
      while (got.size() < want) {
        const std::string more = read_some(reader, 2s);
        if (more.empty()) break;
        got += more;
      }
    } catch (...) {
      error = std::current_exception();
    }
  });
  weft::sleep_for(20ms);  // the reader is parked
  std::atomic<bool> sent{false};
  std::thread sender([&] {
    send_all();
    sent = true;
  });
  // Hog the worker: no yield, no reactor poll, until everything is queued for the reader.
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while ((!sent.load() || queued(reader.fd()) < queued_at_least) && std::chrono::steady_clock::now() < give_up) {
  }
  // A little longer, for anything the kernel still had in flight.
  for (const auto until = std::chrono::steady_clock::now() + 20ms; std::chrono::steady_clock::now() < until;) {
  }
  sender.join();
  r.get();
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const weft::net::timeout_error&) {
      char peek[64];
      const ssize_t readable = ::recv(reader.fd(), peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
      FAIL_CHECK("after the short read \"" << got << "\", the next read timed out with "
                 << readable << " bytes readable in the kernel");
    }
  }
  return got;
}

}  // namespace

TEST_CASE("a short read that stops at a message carrying fds does not strand the data after it") {
  // A Unix stream read stops at an skb that carried SCM_RIGHTS, with more data queued.
  weft_test::one_worker();
  weft::run([] {
    auto [a, b] = UnixStream::pair();
    const int sender = a.fd();
    const std::string got = read_after_coalesced_edges(b, 2, 2, [sender] {
      int passed = ::dup(1);
      CHECK(weft_test::send_with_fd(sender, "a", passed) == 1);
      ::close(passed);
      CHECK(::send(sender, "b", 1, 0) == 1);
    });
    CHECK(got == "ab");
  });
}

TEST_CASE("a short read that stops at TCP urgent data does not strand the data after it") {
  // tcp_recvmsg stops at the urgent mark; the urgent byte is dropped from the stream
  // (no SO_OOBINLINE) and the bytes after it are queued. (SIOCINQ counts only up to the
  // mark: 3.)
  weft_test::one_worker();
  weft::run([] {
    auto [client, server] = tcp_pair();
    const int sender = client.fd();
    const std::string got = read_after_coalesced_edges(server, 3, 6, [sender] {
      CHECK(::send(sender, "abc", 3, 0) == 3);
      CHECK(::send(sender, "!", 1, MSG_OOB) == 1);
      CHECK(::send(sender, "efg", 3, 0) == 3);
    });
    CHECK(got == "abcefg");
  });
}
