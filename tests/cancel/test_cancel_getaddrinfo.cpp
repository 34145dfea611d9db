// getaddrinfo in a fiber whose Timeout has passed (issue 15; a cancel takes the same path
// with ECANCELED): it stops waiting for the resolver pool and returns EAI_SYSTEM with errno
// ETIMEDOUT, while the lookup finishes on the pool on its
// own copies of the arguments and frees its own answer. Run under ASan this is what
// catches a lookup that still writes into the caller's frame (`res`) or reads its strings
// after the caller has gone. A lookup already done when the fiber looks is returned as
// usual; most rounds are not, as the pool needs a thread hop.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <netdb.h>

#include <cerrno>
#include <chrono>
#include <string>

TEST_CASE("getaddrinfo past a Timeout fails with EAI_SYSTEM/ETIMEDOUT, or completes; nothing leaks") {
  weft::configure({.threads = 2});
  int cancelled = 0, completed = 0;
  for (int round = 0; round < 300; ++round) {
    auto lookup = weft::spawn([] {
      weft::Timeout already_over(std::chrono::milliseconds(0));
      std::string host = "localhost";  // on this fiber's stack, gone once it returns
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_CANONNAME;  // a lookup for the resolver pool (localhost alone runs on the worker)
      addrinfo* res = nullptr;
      errno = 0;
      const int rc = ::getaddrinfo(host.c_str(), "80", &hints, &res);
      const int err = errno;
      if (rc == 0) ::freeaddrinfo(res);
      return rc == 0 ? 0 : (rc == EAI_SYSTEM ? err : -rc);
    });
    const int outcome = lookup.get();
    CAPTURE(round);
    CHECK((outcome == 0 || outcome == ETIMEDOUT));
    (outcome == 0 ? completed : cancelled) += 1;
  }
  MESSAGE(cancelled << " lookups abandoned, " << completed << " completed");
  CHECK(cancelled > 0);
  // The resolver pool still answers.
  CHECK(weft::run([] {
          addrinfo* res = nullptr;
          const int rc = ::getaddrinfo("localhost", "80", nullptr, &res);
          if (rc == 0) ::freeaddrinfo(res);
          return rc;
        }) == 0);
}
