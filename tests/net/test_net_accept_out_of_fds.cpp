// accept() when the process is out of descriptors: std::system_error(EMFILE) at once (not
// a wait, not a lost connection), and the connection stays queued, so an accept after an
// fd is freed gets it, with the bytes its client already sent. In a fiber and on a plain
// thread. (This program lowers its own RLIMIT_NOFILE for a moment.)
#include <weft/net.hpp>
#include <weft/weft.hpp>

#include "support/net_places.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace weft_test;
using weft::net::TcpListener;
using weft::net::TcpStream;

namespace {

// While it lives, every descriptor below the (lowered) limit is taken.
class FdsExhausted {
 public:
  FdsExhausted() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    // Room for the fds open now and a few more, then take those few.
    int open_now = 0;
    for (int fd = 0; fd < 4096; ++fd) open_now += ::fcntl(fd, F_GETFD) >= 0;
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(open_now + 8);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        stopped_by_ = errno;  // checked later: no assertion while no fd is left
        break;
      }
      fillers_.push_back(fd);
    }
  }
  ~FdsExhausted() {
    release();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  void release() {
    for (int fd : fillers_) ::close(fd);
    fillers_.clear();
  }
  // What ended the filling: EMFILE.
  int stopped_by() const { return stopped_by_; }

 private:
  int stopped_by_ = 0;
  rlimit saved_{};
  std::vector<int> fillers_;
};

}  // namespace

TEST_CASE("accept out of descriptors throws EMFILE at once and leaves the connection queued") {
  for (Where where : {Where::fiber, Where::thread}) {
    CAPTURE(where_name(where));
    on(where, [] {
      TcpListener listener = TcpListener::bind({"127.0.0.1", 0});
      TcpStream client = TcpStream::connect(listener.local_address(), 5s);
      client.write_all("queued", 5s);
      // Catch one system_error from accept first: UBSan checks an exception's dynamic type
      // the first time it meets it, through a pipe, which cannot be made with no fd left.
      try {
        TcpListener closed = TcpListener::bind({"127.0.0.1", 0});
        closed.close();
        (void)closed.accept(2s);
      } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::bad_file_descriptor);
      }
      {
        // Nothing but the accept while no fd is left: UBSan (and doctest's assertions)
        // may need one.
        FdsExhausted exhausted;
        int error = 0;
        bool timed_out = false;
        const auto start = std::chrono::steady_clock::now();
        try {
          (void)listener.accept(2s);
        } catch (const weft::net::timeout_error&) {
          timed_out = true;
        } catch (const std::system_error& e) {
          error = e.code().value();
        }
        const auto d = std::chrono::steady_clock::now() - start;
        exhausted.release();
        REQUIRE(exhausted.stopped_by() == EMFILE);
        CHECK_MESSAGE(!timed_out, "accept waited for its deadline instead of reporting EMFILE");
        CHECK_MESSAGE(error == EMFILE, "errno " << error);
        CHECK(d < 1s);
        // With a descriptor free again, the same connection is there.
        TcpStream conn = listener.accept(2s);
        char buf[6];
        conn.read_exact(buf, 6, 5s);
        CHECK(std::string(buf, 6) == "queued");
        conn.write_all("served", 5s);
        client.read_exact(buf, 6, 5s);
        CHECK(std::string(buf, 6) == "served");
      }
    });
  }
}
