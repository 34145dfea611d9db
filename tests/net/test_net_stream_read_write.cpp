// weft::net byte streams over TCP on 127.0.0.1: a round trip, read() returning 0 at the
// end of the stream, read_exact across partial writes and its unexpected_eof, write_all of
// 16 MB to a slow reader, EPIPE/ECONNRESET (never SIGPIPE) when writing to a peer that
// closed, ECONNRESET when reading from a peer that reset. Each in fibers and on plain
// threads (a plain thread blocks in poll).
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::ShutdownHow;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 7 + (i >> 12) + (i >> 20)) & 0xff); }

std::uint64_t fnv1a(std::uint64_t h, const std::byte* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ std::to_integer<std::uint64_t>(p[i])) * 0x100000001b3ull;
  return h;
}
constexpr std::uint64_t kFnvStart = 0xcbf29ce484222325ull;

std::string as_string(const char* p, std::size_t n) { return std::string(p, n); }

// Waits (poll: the shim parks a fiber) until fd reports one of `events`.
bool wait_for_events(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 5000) == 1;
}

std::atomic<int> sigpipes{0};
void count_sigpipe(int) { sigpipes.fetch_add(1); }

// Counts SIGPIPEs instead of dying of them, so a test can say how many there were.
void install_sigpipe_counter() {
  struct sigaction sa {};
  sa.sa_handler = count_sigpipe;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  REQUIRE(::sigaction(SIGPIPE, &sa, nullptr) == 0);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGPIPE);
  REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr) == 0);
}

}  // namespace

TEST_CASE("a round trip over TcpListener and TcpStream on 127.0.0.1 port 0") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      TcpListener listener = TcpListener::bind({"127.0.0.1", 0});
      const auto addr = listener.local_address();
      CHECK(addr.family() == AF_INET);
      CHECK(addr.host() == "127.0.0.1");
      CHECK(addr.port() != 0);

      weft::net::SocketAddress seen_peer;
      Peer server(where, [&] {
        TcpStream conn = listener.accept(5s, &seen_peer);
        CHECK(conn.get_option<int>(IPPROTO_TCP, TCP_NODELAY) != 0);
        char buf[5];
        conn.read_exact(buf, sizeof buf, 5s);
        CHECK(as_string(buf, 5) == "hello");
        conn.write_all("world!", 5s);
        // The client shut its side: the end of the stream, and it stays the end.
        CHECK(conn.read(buf, sizeof buf, 5s) == 0);
        CHECK(conn.read(buf, sizeof buf, 5s) == 0);
        conn.write_all("bye", 5s);  // the other direction still works
      });

      TcpStream client = TcpStream::connect(addr, 5s);
      CHECK(client.get_option<int>(IPPROTO_TCP, TCP_NODELAY) != 0);
      CHECK(client.peer_address() == addr);
      client.write_all("hello", 5s);
      char buf[16];
      client.read_exact(buf, 6, 5s);
      CHECK(as_string(buf, 6) == "world!");
      client.shutdown(ShutdownHow::write);
      client.read_exact(buf, 3, 5s);
      CHECK(as_string(buf, 3) == "bye");
      // The server's stream is gone once its fiber or thread returns: the end here too.
      server.join();
      CHECK(client.read(buf, sizeof buf, 5s) == 0);
      CHECK(seen_peer == client.local_address());
    });
  }
}

TEST_CASE("read returns 0 at the end of the stream: a waiting reader when the peer closes") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      auto streams = tcp_pair();  // not a structured binding: lambdas capture them
      auto& client = streams.first;
      auto& server = streams.second;
      Peer closer(where, [&server] {
        server.write_all("last", 5s);
        weft::sleep_for(30ms);  // the reader is waiting by now
        server.close();
      });
      char buf[64];
      CHECK(client.read(buf, sizeof buf, 5s) == 4);
      const auto waited = took([&] { CHECK(client.read(buf, sizeof buf, 5s) == 0); });
      CHECK(waited < 4s);
      CHECK(client.read(buf, sizeof buf, 5s) == 0);
      closer.join();
      // An empty buffer reads 0 without waiting.
      CHECK(client.read(buf, 0, 5s) == 0);
    });
  }
}

TEST_CASE("read_exact fills its buffer across several partial writes") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      auto streams = tcp_pair();  // not a structured binding: lambdas capture them
      auto& client = streams.first;
      auto& server = streams.second;
      constexpr std::size_t kPieces = 10, kPiece = 100;
      std::atomic<std::int64_t> last_piece_at{0};
      Peer writer(where, [&server, &last_piece_at] {
        std::vector<std::byte> piece(kPiece);
        for (std::size_t p = 0; p < kPieces; ++p) {
          for (std::size_t i = 0; i < kPiece; ++i) piece[i] = pattern(p * kPiece + i);
          weft::sleep_for(5ms);
          if (p + 1 == kPieces) last_piece_at = std::chrono::steady_clock::now().time_since_epoch().count();
          server.write_all(piece, 5s);
        }
      });
      std::vector<std::byte> got(kPieces * kPiece + 1, std::byte{0xee});
      client.read_exact(got.data(), kPieces * kPiece, 10s);
      // It cannot have returned before the last piece was written.
      const std::int64_t returned_at = std::chrono::steady_clock::now().time_since_epoch().count();
      CHECK(last_piece_at.load() != 0);
      CHECK(returned_at >= last_piece_at.load());
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < kPieces * kPiece; ++i) wrong += got[i] != pattern(i);
      CHECK(wrong == 0);
      CHECK(got[kPieces * kPiece] == std::byte{0xee});  // not one byte more
      writer.join();
    });
  }
}

TEST_CASE("read_exact throws unexpected_eof, a system_error, when the stream ends early") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      auto streams = tcp_pair();  // not a structured binding: lambdas capture them
      auto& client = streams.first;
      auto& server = streams.second;
      Peer writer(where, [&server] {
        server.write_all("abc", 5s);
        weft::sleep_for(20ms);
        server.shutdown(ShutdownHow::write);
      });
      char buf[10];
      bool thrown = false;
      try {
        client.read_exact(buf, sizeof buf, 5s);
      } catch (const weft::net::unexpected_eof& e) {
        thrown = true;
        const std::system_error& as_system = e;
        CHECK(as_system.code() == std::errc::no_message_available);
        CHECK(weft::net::is_disconnect(e));
        CHECK_MESSAGE(std::string(e.what()).find("3 of 10") != std::string::npos, e.what());
      }
      CHECK(thrown);
      CHECK(as_string(buf, 3) == "abc");
      writer.join();
      // Zero bytes asked: nothing to wait for, even at the end of the stream.
      client.read_exact(buf, 0, 5s);
    });
  }
}

TEST_CASE("write_all of 16 MB to a slow reader arrives intact") {
  constexpr std::size_t kTotal = 16u << 20;
  std::vector<std::byte> data(kTotal);
  for (std::size_t i = 0; i < kTotal; ++i) data[i] = pattern(i);
  const std::uint64_t sent_sum = fnv1a(kFnvStart, data.data(), kTotal);

  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [&, where] {
      auto streams = tcp_pair();  // not a structured binding: lambdas capture them
      auto& client = streams.first;
      auto& server = streams.second;
      std::size_t received = 0, wrong = 0, reads = 0;
      std::uint64_t sum = kFnvStart;
      Peer reader(where, [&, &server = server] {
        std::byte buf[4096];
        for (;;) {
          const std::size_t n = server.read(buf, sizeof buf, 30s);
          if (n == 0) break;
          for (std::size_t i = 0; i < n; ++i) wrong += buf[i] != pattern(received + i);
          sum = fnv1a(sum, buf, n);
          received += n;
          // Slow: a pause every 128 KiB, so the writer keeps finding the kernel's buffers full.
          if (++reads % 32 == 0) weft::sleep_for(1ms);
        }
      });
      client.write_all(data, 60s);
      client.shutdown(ShutdownHow::write);
      reader.join();
      CHECK(received == kTotal);
      CHECK(wrong == 0);
      CHECK(sum == sent_sum);
    });
  }
}

TEST_CASE("the SIGPIPE counter of these tests sees a SIGPIPE (control)") {
  install_sigpipe_counter();
  sigpipes = 0;
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  ::close(sv[1]);
  errno = 0;
  CHECK(::send(sv[0], "x", 1, 0) == -1);  // no MSG_NOSIGNAL: the kernel raises SIGPIPE
  CHECK(errno == EPIPE);
  ::close(sv[0]);
  CHECK(sigpipes.load() == 1);
}

TEST_CASE("writing to a peer that closed throws EPIPE or ECONNRESET, and raises no SIGPIPE") {
  install_sigpipe_counter();
  sigpipes = 0;
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      for (bool use_write_all : {false, true}) {
        CAPTURE(use_write_all);
        auto streams = tcp_pair();  // not a structured binding: lambdas capture them
        auto& client = streams.first;
        auto& server = streams.second;
        server.close();
        const std::string chunk(1024, 'x');
        int error = 0;
        std::string what;
        // The first writes may still be taken; the peer's RST ends that.
        for (int i = 0; i < 2000 && error == 0; ++i) {
          try {
            if (use_write_all) {
              client.write_all(chunk, 5s);
            } else {
              const std::size_t n = client.write(chunk.data(), chunk.size(), 5s);
              CHECK(n > 0);
            }
            weft::sleep_for(1ms);
          } catch (const std::system_error& e) {
            error = e.code().value();
            what = e.what();
            CHECK(e.code().category() == std::generic_category());
            CHECK(weft::net::is_disconnect(e));
          }
        }
        CHECK_MESSAGE((error == EPIPE || error == ECONNRESET), "errno " << error << ": " << what);
        // Every further write fails too, still without a signal.
        CHECK_THROWS_AS(client.write_all(chunk, 5s), std::system_error);
      }
    });
  }
  CHECK(sigpipes.load() == 0);
}

TEST_CASE("a peer's reset (SO_LINGER 0, then close) makes read throw ECONNRESET") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [where] {
      for (bool reader_waits_first : {true, false}) {
        CAPTURE(reader_waits_first);
        auto streams = tcp_pair();  // not a structured binding: lambdas capture them
        auto& client = streams.first;
        auto& server = streams.second;
        auto reset = [&server = server] {
          server.set_option(SOL_SOCKET, SO_LINGER, ::linger{1, 0});
          server.close();
        };
        char buf[64];
        int error = 0;
        auto read_until_error = [&] {
          try {
            const std::size_t n = client.read(buf, sizeof buf, 5s);
            FAIL("read returned " << n << " instead of throwing");
          } catch (const weft::net::timeout_error&) {
            FAIL("read timed out: the reset never woke it");
          } catch (const std::system_error& e) {
            error = e.code().value();
          }
        };
        if (reader_waits_first) {
          Peer resetter(where, [&] {
            weft::sleep_for(30ms);  // the reader is waiting by now
            reset();
          });
          read_until_error();
          resetter.join();
        } else {
          reset();
          REQUIRE(wait_for_events(client.fd(), POLLIN));  // the RST is here
          read_until_error();
        }
        CHECK_MESSAGE(error == ECONNRESET, "errno " << error);
      }
    });
  }
}
