// Name resolution. glibc's resolver blocks in its own internal calls (which no shim sees),
// so in a fiber the whole lookup runs on the resolver's own pool (runtime/resolver.hpp,
// never behind spawn_blocking tasks) while the fiber waits; it is still glibc's resolver,
// so /etc/hosts, nsswitch.conf and libc's error codes are kept.
// errno (for EAI_SYSTEM) and h_errno come back to the calling thread.
#include "io_gate.hpp"
#include "resolver.hpp"
#include "thread_context.hpp"

#include <cstring>
#include <vector>

using weft::shim::in_fiber;

namespace {

// Runs call() on the resolver's pool and waits for it; errno and h_errno as it left them.
template <class Call>
auto offload(Call call) -> decltype(call()) {
  struct Outcome {
    decltype(call()) value;
    int err;
    int herr;
  };
  Outcome out = weft::rt::spawn_lookup([&] {
                  auto value = call();
                  return Outcome{value, errno, h_errno};
                }).get();
  errno = out.err;
  h_errno = out.herr;
  return out.value;
}

// What the non-reentrant gethostbyname* return: per thread, like glibc's static buffer
// is per process; valid until the thread's next call. Kept in the runtime's thread
// context, which frees it when the thread exits.
struct HostentBox {
  hostent entry{};
  std::vector<char> buffer = std::vector<char>(1024);
};

HostentBox& last_hostent() {
  weft::rt::ThreadContext& ctx = weft::rt::thread_context();
  if (ctx.upper_slot.value == nullptr) {
    ctx.arm_teardown();
    ctx.upper_slot.value = new HostentBox;
    ctx.upper_slot.free = [](void* p) noexcept { delete static_cast<HostentBox*>(p); };
  }
  return *static_cast<HostentBox*>(ctx.upper_slot.value);
}

hostent* gethostbyname_offloaded(const char* name, int af) {
  HostentBox box;
  hostent* result = nullptr;
  int herr = 0;
  for (;;) {
    const int err = offload([&] {
      return WEFT_REAL(gethostbyname2_r)(name, af, &box.entry, box.buffer.data(), box.buffer.size(),
                                         &result, &herr);
    });
    if (err != ERANGE || box.buffer.size() > (1u << 24)) break;
    box.buffer.resize(box.buffer.size() * 2);
  }
  h_errno = herr;
  if (result == nullptr) return nullptr;
  // The entry points into box.buffer's heap block, which moves with the vector.
  HostentBox& last = last_hostent();
  std::swap(last, box);
  return &last.entry;
}

}  // namespace

extern "C" {

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  if (!in_fiber()) return WEFT_REAL(getaddrinfo)(node, service, hints, res);
  return offload([&] { return WEFT_REAL(getaddrinfo)(node, service, hints, res); });
}

int getnameinfo(const struct sockaddr* addr, socklen_t len, char* host, socklen_t hostlen,
                char* serv, socklen_t servlen, int flags) {
  if (!in_fiber()) return WEFT_REAL(getnameinfo)(addr, len, host, hostlen, serv, servlen, flags);
  return offload([&] { return WEFT_REAL(getnameinfo)(addr, len, host, hostlen, serv, servlen, flags); });
}

struct hostent* gethostbyname(const char* name) {
  if (!in_fiber()) return WEFT_REAL(gethostbyname)(name);
  return gethostbyname_offloaded(name, AF_INET);
}

struct hostent* gethostbyname2(const char* name, int af) {
  if (!in_fiber()) return WEFT_REAL(gethostbyname2)(name, af);
  return gethostbyname_offloaded(name, af);
}

int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                    struct hostent** result, int* h_errnop) {
  if (!in_fiber()) return WEFT_REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
  return offload([&] { return WEFT_REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop); });
}

int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf, size_t buflen,
                     struct hostent** result, int* h_errnop) {
  if (!in_fiber()) return WEFT_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
  return offload([&] { return WEFT_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop); });
}

}  // extern "C"
