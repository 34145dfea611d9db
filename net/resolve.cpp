// resolve(): getaddrinfo on the resolver's pool (runtime/resolver.hpp), with a deadline.
#include "io.hpp"
#include "resolver.hpp"

#include <weft/net/address.hpp>
#include <weft/net/errors.hpp>
#include <weft/this_fiber.hpp>

#include <netdb.h>

#include <memory>
#include <string>

namespace weft::net {

namespace {

class ResolveCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.resolve"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

struct Answer {
  int code = 0;
  int saved_errno = 0;  // for EAI_SYSTEM
  std::vector<SocketAddress> addresses;
};

Answer lookup(const std::string& host, std::uint16_t port, int family) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  Answer answer;
  const std::string service = std::to_string(port);
  answer.code = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  answer.saved_errno = errno;
  if (answer.code != 0) return answer;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, ::freeaddrinfo);
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    answer.addresses.push_back(SocketAddress::from(a->ai_addr, a->ai_addrlen));
  }
  return answer;
}

}  // namespace

const std::error_category& resolve_category() noexcept {
  static const ResolveCategory category;
  return category;
}

std::vector<SocketAddress> resolve(std::string_view host_view, std::uint16_t port, Deadline deadline,
                                   int family) {
  std::string host(host_view);
  Answer answer;
  if (deadline.is_none() && !in_fiber()) {
    answer = lookup(host, port, family);
  } else {
    // A fiber must not block its worker, and a deadline needs someone else to do the
    // waiting: the pool thread finishes the lookup even if nobody wants it any more.
    auto pending = rt::spawn_lookup(lookup, host, port, family);
    if (!pending.wait_until(deadline.time())) io::throw_timeout("weft::net::resolve");
    answer = std::move(pending).get();
  }
  const std::string what = "weft::net::resolve(\"" + host + "\")";
  if (answer.code == EAI_SYSTEM) throw std::system_error(answer.saved_errno, std::generic_category(), what);
  if (answer.code != 0) throw resolve_error(answer.code, what);
  if (answer.addresses.empty()) throw resolve_error(EAI_NONAME, what);
  return std::move(answer.addresses);
}

}  // namespace weft::net
