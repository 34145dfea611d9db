// getaddrinfo, getnameinfo, gethostbyname, gethostbyname2, gethostbyname_r,
// gethostbyname2_r: the same answers (address lists as text), error codes, errno and
// h_errno as libc. No network is needed: numeric hosts, "localhost" from /etc/hosts (which
// the tests do not change), and names that fail (offline the resolver answers at once).
#include "conformance.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(getaddrinfo)
WEFT_CONFORMS(getnameinfo)
WEFT_CONFORMS(gethostbyname)
WEFT_CONFORMS(gethostbyname2)
WEFT_CONFORMS(gethostbyname_r)
WEFT_CONFORMS(gethostbyname2_r)

namespace {

std::string address_text(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(family, addr, buf, sizeof buf);
  return buf;
}

std::string sockaddr_text(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return address_text(AF_INET, &in->sin_addr) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return "[" + address_text(AF_INET6, &in6->sin6_addr) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "family " + std::to_string(sa->sa_family);
}

// getaddrinfo's result code, and its list as text (then freed).
Outcome resolve(const char* node, const char* service, const addrinfo* hints) {
  addrinfo* res = nullptr;
  errno = 0;
  const int rc = ::getaddrinfo(node, service, hints, &res);
  Outcome o{rc, rc == EAI_SYSTEM ? errno : 0, ""};
  for (const addrinfo* a = res; rc == 0 && a != nullptr; a = a->ai_next) {
    o.detail += sockaddr_text(a->ai_addr) + " type " + std::to_string(a->ai_socktype) + " proto " +
                std::to_string(a->ai_protocol);
    if (a->ai_canonname != nullptr) o.detail += std::string(" canon ") + a->ai_canonname;
    o.detail += "; ";
  }
  if (rc == 0) ::freeaddrinfo(res);
  return o;
}

addrinfo hints_of(int family, int socktype, int flags = 0) {
  addrinfo h{};
  h.ai_family = family;
  h.ai_socktype = socktype;
  h.ai_flags = flags;
  return h;
}

// A hostent as text: name, aliases, type, length and addresses.
std::string hostent_text(const hostent* h) {
  if (h == nullptr) return "null";
  std::string s = std::string("name ") + h->h_name + " aliases";
  for (char** a = h->h_aliases; *a != nullptr; ++a) s += std::string(" ") + *a;
  s += " type " + std::to_string(h->h_addrtype) + " len " + std::to_string(h->h_length) + " addrs";
  for (char** a = h->h_addr_list; *a != nullptr; ++a) s += " " + address_text(h->h_addrtype, *a);
  return s;
}

}  // namespace

// ---- getaddrinfo ---------------------------------------------------------------------

TEST_CASE("getaddrinfo: localhost from /etc/hosts, numeric hosts, services by name, passive") {
  struct Query {
    const char* node;
    const char* service;
    addrinfo hints;
  };
  for (const Query& q : {Query{"localhost", "80", hints_of(AF_UNSPEC, SOCK_STREAM)},
                         Query{"localhost", "http", hints_of(AF_INET, 0, AI_CANONNAME)},
                         Query{"localhost", nullptr, hints_of(AF_UNSPEC, 0)},
                         Query{"127.0.0.1", "443", hints_of(AF_UNSPEC, SOCK_DGRAM, AI_NUMERICHOST)},
                         Query{"::1", "8080", hints_of(AF_INET6, SOCK_STREAM)},
                         Query{nullptr, "8080", hints_of(AF_UNSPEC, SOCK_STREAM, AI_PASSIVE)},
                         Query{nullptr, "8080", hints_of(AF_INET, SOCK_STREAM)}}) {
    INFO((q.node ? q.node : "(null)") << " " << (q.service ? q.service : "(null)"));
    const Outcome ref = check_conforms([&q] { return resolve(q.node, q.service, &q.hints); });
    CHECK(ref.result == 0);
    CHECK(!ref.detail.empty());  // some address came back
  }
  // NULL hints too.
  Outcome ref = check_conforms([] { return resolve("localhost", "80", nullptr); });
  CHECK(ref.result == 0);
  CHECK(ref.detail.find("127.0.0.1:80") != std::string::npos);
  // One exact list: /etc/hosts has localhost as 127.0.0.1.
  const addrinfo stream = hints_of(AF_INET, SOCK_STREAM, AI_CANONNAME);
  ref = check_conforms([&stream] { return resolve("localhost", "http", &stream); });
  CHECK(ref == Outcome{0, 0, "127.0.0.1:80 type 1 proto 6 canon localhost; "});
}

TEST_CASE("getaddrinfo: libc's error codes for a missing name, a bad service, bad hints") {
  struct Bad {
    const char* node;
    const char* service;
    addrinfo hints;
    int expected;
  };
  for (const Bad& b : {Bad{"no-such-host.invalid", "80", hints_of(AF_UNSPEC, SOCK_STREAM), EAI_NONAME},
                       Bad{"localhost", "80", hints_of(AF_UNSPEC, SOCK_STREAM, AI_NUMERICHOST), EAI_NONAME},
                       Bad{nullptr, nullptr, hints_of(AF_UNSPEC, 0), EAI_NONAME},
                       Bad{"localhost", "no-such-service", hints_of(AF_UNSPEC, SOCK_STREAM), EAI_SERVICE},
                       Bad{"localhost", "http", hints_of(AF_UNSPEC, SOCK_STREAM, AI_NUMERICSERV), EAI_NONAME},
                       Bad{"localhost", "80", hints_of(12345, SOCK_STREAM), EAI_FAMILY},
                       Bad{"localhost", "80", hints_of(AF_UNSPEC, 12345), EAI_SOCKTYPE},
                       Bad{nullptr, "80", hints_of(AF_UNSPEC, SOCK_STREAM, AI_CANONNAME), EAI_BADFLAGS},
                       Bad{"localhost", "80", hints_of(AF_UNSPEC, SOCK_STREAM, 0x40000000), EAI_BADFLAGS}}) {
    INFO((b.node ? b.node : "(null)") << " " << (b.service ? b.service : "(null)") << " family "
                                      << b.hints.ai_family << " type " << b.hints.ai_socktype << " flags "
                                      << b.hints.ai_flags);
    const Outcome ref = check_conforms([&b] { return resolve(b.node, b.service, &b.hints); });
    CHECK(ref.result == b.expected);
    CHECK(std::string(::gai_strerror(static_cast<int>(ref.result))) == ::gai_strerror(b.expected));
  }
}

// ---- getnameinfo ---------------------------------------------------------------------

TEST_CASE("getnameinfo: numeric and by name from /etc/hosts, IPv6, and its errors") {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(80);
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(443);
  v6.sin6_addr = in6addr_loopback;
  struct Query {
    const sockaddr* addr;
    socklen_t len;
    socklen_t hostlen;
    socklen_t servlen;
    int flags;
  };
  const auto* a4 = reinterpret_cast<const sockaddr*>(&v4);
  const auto* a6 = reinterpret_cast<const sockaddr*>(&v6);
  for (const Query& q : {Query{a4, sizeof v4, 64, 32, NI_NUMERICHOST | NI_NUMERICSERV},
                         Query{a4, sizeof v4, 64, 32, 0},                       // localhost, http
                         Query{a4, sizeof v4, 64, 32, NI_NAMEREQD},             // in /etc/hosts
                         Query{a4, sizeof v4, 64, 32, NI_DGRAM | NI_NOFQDN},
                         Query{a6, sizeof v6, 64, 32, NI_NUMERICHOST | NI_NUMERICSERV},
                         Query{a4, sizeof v4, 0, 32, NI_NUMERICSERV},           // service only
                         Query{a4, sizeof v4, 3, 32, NI_NUMERICHOST},           // EAI_OVERFLOW
                         Query{a4, 2, 64, 32, NI_NUMERICHOST},                  // EAI_FAMILY
                         Query{a6, sizeof v4, 64, 32, NI_NUMERICHOST}}) {       // EAI_FAMILY
    INFO("len " << q.len << " hostlen " << q.hostlen << " flags " << q.flags);
    const Outcome ref = check_conforms([&q] {
      char host[64] = "unset";
      char serv[32] = "unset";
      errno = 0;
      const int rc = ::getnameinfo(q.addr, q.len, q.hostlen ? host : nullptr, q.hostlen, serv, q.servlen, q.flags);
      return Outcome{rc, rc == EAI_SYSTEM ? errno : 0, rc == 0 ? std::string(host) + " " + serv : ""};
    });
    if (q.flags == (NI_NUMERICHOST | NI_NUMERICSERV) && q.addr == a4) CHECK(ref == Outcome{0, 0, "127.0.0.1 80"});
    if (q.flags == (NI_NUMERICHOST | NI_NUMERICSERV) && q.addr == a6) CHECK(ref == Outcome{0, 0, "::1 443"});
    if (q.hostlen == 3) CHECK(ref.result == EAI_OVERFLOW);
    if (q.len == 2) CHECK(ref.result == EAI_FAMILY);
    if (q.flags == 0) CHECK(ref == Outcome{0, 0, "localhost http"});  // 127.0.0.1 is localhost in /etc/hosts
  }
}

// ---- gethostbyname* ------------------------------------------------------------------

TEST_CASE("gethostbyname: localhost and a numeric address; HOST_NOT_FOUND in h_errno for a missing name") {
  for (const char* name : {"localhost", "127.0.0.1", "no-such-host.invalid"}) {
    INFO(std::string(name));
    const Outcome ref = check_conforms([name] {
      h_errno = 12345;
      const hostent* h = ::gethostbyname(name);
      return Outcome{h != nullptr ? 1 : 0, 0, hostent_text(h) + (h == nullptr ? " h_errno " + std::to_string(h_errno) : "")};
    });
    if (std::string(name) == "no-such-host.invalid") {
      CHECK(ref == Outcome{0, 0, "null h_errno " + std::to_string(HOST_NOT_FOUND)});
    } else {
      CHECK(ref.result == 1);
      CHECK(ref.detail.find("addrs 127.0.0.1") != std::string::npos);
    }
  }
}

TEST_CASE("gethostbyname: the result stays valid until the thread's next call") {
  const Outcome ref = check_conforms([] {
    const hostent* h = ::gethostbyname("localhost");
    const std::string first = hostent_text(h);
    const hostent* h2 = ::gethostbyname("127.0.0.1");
    return Outcome{0, 0, first + " | " + hostent_text(h2)};
  });
  CHECK(ref.detail.find("name localhost") == 0);
}

TEST_CASE("gethostbyname2: AF_INET and AF_INET6, numeric and from /etc/hosts, bad family") {
  struct Query {
    const char* name;
    int af;
  };
  for (const Query& q : {Query{"localhost", AF_INET}, Query{"localhost", AF_INET6}, Query{"::1", AF_INET6},
                         Query{"127.0.0.1", AF_INET}, Query{"127.0.0.1", AF_INET6}, Query{"::1", AF_INET},
                         Query{"no-such-host.invalid", AF_INET6}, Query{"localhost", 12345}}) {
    INFO(std::string(q.name) << " af " << q.af);
    const Outcome ref = check_conforms([&q] {
      h_errno = 12345;
      errno = 0;
      const hostent* h = ::gethostbyname2(q.name, q.af);
      return Outcome{h != nullptr ? 1 : 0, h == nullptr ? errno : 0,
                     hostent_text(h) + (h == nullptr ? " h_errno " + std::to_string(h_errno) : "")};
    });
    if (std::string(q.name) == "::1" && q.af == AF_INET6) CHECK(ref.detail.find("addrs ::1") != std::string::npos);
    if (q.af == 12345) CHECK(ref == Outcome{0, EAFNOSUPPORT, "null h_errno " + std::to_string(NO_DATA)});
  }
}

TEST_CASE("gethostbyname_r and gethostbyname2_r: answers, a missing name, ERANGE for a small buffer") {
  struct Query {
    const char* name;
    int af;  // 0: gethostbyname_r
    std::size_t buflen;
  };
  for (const Query& q : {Query{"localhost", 0, 1024}, Query{"127.0.0.1", 0, 1024}, Query{"no-such-host.invalid", 0, 1024},
                         Query{"localhost", 0, 8}, Query{"localhost", AF_INET, 1024}, Query{"::1", AF_INET6, 1024},
                         Query{"localhost", AF_INET6, 1024}, Query{"no-such-host.invalid", AF_INET, 1024},
                         Query{"localhost", AF_INET, 8}, Query{"::1", AF_INET6, 8}}) {
    INFO(std::string(q.name) << " af " << q.af << " buflen " << q.buflen);
    const Outcome ref = check_conforms([&q] {
      std::vector<char> buf(q.buflen);
      hostent entry{};
      hostent* result = reinterpret_cast<hostent*>(1);
      int herr = 12345;
      errno = 0;
      const int rc = q.af == 0 ? ::gethostbyname_r(q.name, &entry, buf.data(), buf.size(), &result, &herr)
                               : ::gethostbyname2_r(q.name, q.af, &entry, buf.data(), buf.size(), &result, &herr);
      const int err = errno;
      std::string detail = result == nullptr ? "null" : result == &entry ? hostent_text(result) : "result unset";
      return Outcome{rc, err, detail + " h_errno " + std::to_string(herr)};
    });
    if (q.buflen == 8) {
      CHECK(ref == Outcome{ERANGE, ERANGE, "null h_errno " + std::to_string(NETDB_INTERNAL)});
    } else if (std::string(q.name) == "no-such-host.invalid") {
      CHECK(ref.detail == "null h_errno " + std::to_string(HOST_NOT_FOUND));
    } else if (q.af != AF_INET6 || std::string(q.name) == "::1") {
      CHECK(ref.result == 0);
      CHECK(ref.detail.find("addrs") != std::string::npos);
    }
  }
}

// ---- fibers only ---------------------------------------------------------------------

// glibc keeps its resolver state (_res) per thread and initialises it (RES_INIT) on the
// thread that resolves. On a plain thread a lookup sets it; in a fiber the lookup runs on
// the blocking pool, so the worker's own state stays untouched: the worker thread never
// ran the resolver. (Offline there is no honest way to make a lookup slow, so this does
// not show another fiber running meanwhile; it shows where the lookup ran.)
TEST_CASE("getaddrinfo and gethostbyname_r in a fiber run the resolver off the worker thread") {
  const auto lookups = [] {
    _res.options &= ~static_cast<unsigned long>(RES_INIT);
    addrinfo* res = nullptr;
    // AI_CANONNAME: a lookup for the resolver (localhost alone is answered on the worker,
    // from /etc/hosts, in a fiber too).
    const addrinfo hints = hints_of(AF_UNSPEC, SOCK_STREAM, AI_CANONNAME);
    const int rc = ::getaddrinfo("localhost", "80", &hints, &res);
    if (rc == 0) ::freeaddrinfo(res);
    const bool after_gai = (_res.options & RES_INIT) != 0;

    _res.options &= ~static_cast<unsigned long>(RES_INIT);
    hostent entry{};
    hostent* result = nullptr;
    char buf[1024];
    int herr = 0;
    const int rc2 = ::gethostbyname_r("localhost", &entry, buf, sizeof buf, &result, &herr);
    const bool after_ghbn = (_res.options & RES_INIT) != 0;
    return std::to_string(rc) + " " + std::to_string(rc2) + " resolver state set here: " +
           std::to_string(after_gai) + " " + std::to_string(after_ghbn);
  };
  std::string on_thread;
  std::thread([&] { on_thread = lookups(); }).join();
  CHECK(on_thread == "0 0 resolver state set here: 1 1");  // the probe sees a lookup
  CHECK(weft::run(lookups) == "0 0 resolver state set here: 0 0");
}
