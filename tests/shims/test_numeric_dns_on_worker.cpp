// A lookup glibc answers from its arguments alone runs on the worker, not on the resolver
// pool (issue 16, item 4): getaddrinfo of a numeric address (or none, or AI_NUMERICHOST)
// with a numeric port (or none), and getnameinfo with NI_NUMERICHOST | NI_NUMERICSERV.
// The answer is glibc's exact one (compared with a plain thread's).
//
// How the test tells where it ran: a wait for the pool is a cancellable wait, so in a fiber
// whose Timeout has passed a pooled lookup fails at once (EAI_SYSTEM, ETIMEDOUT), while one
// that never waits answers. A name /etc/hosts lacks is the control that shows the probe
// can fail. Before the fix every lookup in a fiber went to the pool: each
// numeric one below failed with EAI_SYSTEM, as did localhost (from /etc/hosts). Two workers.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// getaddrinfo's code, errno for EAI_SYSTEM, and the list as text (then freed).
std::string lookup(const char* node, const char* service, int family, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(node, service, &hints, &res);
  std::string text = "rc " + std::to_string(rc);
  if (rc == EAI_SYSTEM) text += " errno " + std::to_string(errno);
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    (void)::getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, serv, sizeof serv,
                        NI_NUMERICHOST | NI_NUMERICSERV);
    text += std::string(" ") + host + "/" + serv + " fam " + std::to_string(a->ai_family);
  }
  if (res != nullptr) ::freeaddrinfo(res);
  return text;
}

std::string on_plain_thread(const std::function<std::string()>& f) {
  std::string out;
  std::thread([&] { out = f(); }).join();
  return out;
}

// f() in a fiber whose Timeout has already passed: a lookup that waits for the pool fails.
std::string in_expired_fiber(const std::function<std::string()>& f) {
  return weft::run([&] {
    weft::Timeout passed(0ms);
    return f();
  });
}

}  // namespace

TEST_CASE("numeric getaddrinfo in a fiber answers on the worker, as libc does") {
  weft::configure({.threads = 2});
  struct Query {
    const char* node;
    const char* service;
    int family;
    int flags;
  };
  for (const Query& q : {Query{"127.0.0.1", "80", AF_UNSPEC, 0}, Query{"::1", "8080", AF_INET6, 0},
                         Query{"10.1.2.3", nullptr, AF_INET, 0}, Query{"127.0.0.1", "443", AF_UNSPEC, AI_NUMERICHOST},
                         Query{nullptr, "8080", AF_UNSPEC, AI_PASSIVE}, Query{nullptr, "7", AF_INET, 0},
                         Query{"localhost", "80", AF_UNSPEC, AI_NUMERICHOST},  // EAI_NONAME, no lookup
                         Query{"::ffff:10.0.0.1", "1", AF_UNSPEC, AI_NUMERICSERV}}) {
    CAPTURE(q.node ? q.node : "(null)");
    CAPTURE(q.service ? q.service : "(null)");
    const auto call = [&q] { return lookup(q.node, q.service, q.family, q.flags); };
    const std::string libc = on_plain_thread(call);
    CHECK(libc.rfind("rc " + std::to_string(EAI_SYSTEM), 0) != 0);
    CHECK(in_expired_fiber(call) == libc);
  }
}

TEST_CASE("a name /etc/hosts gives answers on the worker too; one it does not goes to the pool") {
  // Debian's /etc/hosts names localhost, and its nsswitch.conf asks the file first.
  std::ifstream hosts("/etc/hosts");
  const std::string text((std::istreambuf_iterator<char>(hosts)), std::istreambuf_iterator<char>());
  REQUIRE_MESSAGE(text.find("localhost") != std::string::npos, "this machine's /etc/hosts lacks localhost");
  const auto local = [] { return lookup("localhost", "80", AF_UNSPEC, 0); };
  const std::string libc = on_plain_thread(local);
  CHECK(libc.rfind("rc 0 ", 0) == 0);
  CHECK(in_expired_fiber(local) == libc);
  // The probe's control: a name the file lacks waits for the pool, and the passed Timeout
  // stops that wait.
  const auto missing = [] { return lookup("no-such-host.invalid", "80", AF_UNSPEC, 0); };
  CHECK(in_expired_fiber(missing) == "rc " + std::to_string(EAI_SYSTEM) + " errno " + std::to_string(ETIMEDOUT));
  // A service by name, and AI_CANONNAME, may read files or ask the resolver too.
  CHECK(in_expired_fiber([] { return lookup("127.0.0.1", "http", AF_INET, 0); }).rfind("rc " + std::to_string(EAI_SYSTEM), 0) == 0);
  CHECK(in_expired_fiber([] { return lookup("127.0.0.1", "80", AF_INET, AI_CANONNAME); }).rfind("rc " + std::to_string(EAI_SYSTEM), 0) == 0);
}

TEST_CASE("numeric getnameinfo in a fiber answers on the worker; a name lookup does not") {
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_port = htons(8443);
  REQUIRE(::inet_pton(AF_INET6, "::1", &six.sin6_addr) == 1);
  const auto numeric = [&six] {
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    errno = 0;
    const int rc = ::getnameinfo(reinterpret_cast<const sockaddr*>(&six), sizeof six, host, sizeof host, serv,
                                 sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    return "rc " + std::to_string(rc) + " " + host + " " + serv + (rc == EAI_SYSTEM ? " errno " + std::to_string(errno) : "");
  };
  const std::string libc = on_plain_thread(numeric);
  CHECK(libc == "rc 0 ::1 8443");
  CHECK(in_expired_fiber(numeric) == libc);

  const auto by_name = [&six] {
    char host[NI_MAXHOST] = "";
    errno = 0;
    const int rc = ::getnameinfo(reinterpret_cast<const sockaddr*>(&six), sizeof six, host, sizeof host, nullptr, 0,
                                 NI_NAMEREQD);
    return "rc " + std::to_string(rc) + (rc == EAI_SYSTEM ? " errno " + std::to_string(errno) : "");
  };
  // getnameinfo's wait for the pool is shielded (it writes into the caller's buffers), so
  // the control here is only that it gives libc's answer.
  CHECK(in_expired_fiber(by_name) == on_plain_thread(by_name));
}
