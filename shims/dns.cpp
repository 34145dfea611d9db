// Name resolution. glibc's resolver blocks in its own internal calls (which no shim sees),
// so in a fiber the whole lookup runs on the resolver's own pool (runtime/resolver.hpp,
// never behind spawn_blocking tasks) while the fiber waits; it is still glibc's resolver,
// so /etc/hosts, nsswitch.conf and libc's error codes are kept.
// errno (for EAI_SYSTEM) and h_errno come back to the calling thread.
//
// Lookups that need no resolver run on the worker, as on a plain thread: getaddrinfo of a
// numeric address (or none, or with AI_NUMERICHOST) or a name /etc/hosts gives (when
// nsswitch.conf asks the file first), with a numeric port (or none); getnameinfo with
// NI_NUMERICHOST and NI_NUMERICSERV. glibc answers those from the arguments or the file,
// so it is glibc's exact answer, without the pool's two thread hops.
//
// A cancelled fiber (or one whose Timeout passes) stops waiting for getaddrinfo, which
// returns EAI_SYSTEM with errno ECANCELED (ETIMEDOUT); the lookup finishes on the pool,
// on copies of its arguments, and its answer is freed there. The other lookups write
// into the caller's buffers, so they finish before returning, cancelled or not.
#include "cancel.hpp"
#include "io_gate.hpp"
#include "resolver.hpp"
#include "thread_context.hpp"

#include <weft/cancel.hpp>
#include <weft/errors.hpp>

#include <arpa/inet.h>
#include <netdb.h>

#include <sys/stat.h>

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using weft::shim::in_fiber;

namespace {

// Runs call() on the resolver's pool and waits for it, whatever happens (call() uses the
// caller's frame); errno and h_errno as it left them.
template <class Call>
auto offload(Call call) -> decltype(call()) {
  struct Outcome {
    decltype(call()) value;
    int err;
    int herr;
  };
  weft::Shield it_writes_into_this_frame;
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

// One getaddrinfo on the pool, on its own copies, so that a caller that stops waiting
// leaves it nothing to touch; its answer is freed with it unless the caller took it.
struct AddrLookup {
  AddrLookup(const char* node, const char* service, const addrinfo* given_hints) {
    if (node != nullptr) this->node = node;
    if (service != nullptr) this->service = service;
    if (given_hints != nullptr) {
      hints = addrinfo{};
      hints->ai_flags = given_hints->ai_flags;
      hints->ai_family = given_hints->ai_family;
      hints->ai_socktype = given_hints->ai_socktype;
      hints->ai_protocol = given_hints->ai_protocol;
    }
  }
  ~AddrLookup() {
    if (answer != nullptr) ::freeaddrinfo(answer);
  }
  AddrLookup(const AddrLookup&) = delete;
  AddrLookup& operator=(const AddrLookup&) = delete;

  void run() noexcept {
    result = WEFT_REAL(getaddrinfo)(node ? node->c_str() : nullptr, service ? service->c_str() : nullptr,
                                    hints ? &*hints : nullptr, &answer);
    err = errno;
    herr = h_errno;
  }

  std::optional<std::string> node, service;
  std::optional<addrinfo> hints;
  addrinfo* answer = nullptr;
  int result = EAI_SYSTEM;
  int err = 0;
  int herr = 0;
};

int getaddrinfo_offloaded(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  std::shared_ptr<AddrLookup> lookup;
  try {
    lookup = std::make_shared<AddrLookup>(node, service, hints);
    weft::rt::spawn_lookup([lookup] { lookup->run(); }).get();
  } catch (const std::bad_alloc&) {
    return EAI_MEMORY;
  } catch (const std::system_error& e) {
    // Cancelled or timed out while waiting (the lookup runs on, for nobody), or the
    // pool could not take it.
    errno = e.code().value();
    return EAI_SYSTEM;
  }
  errno = lookup->err;
  h_errno = lookup->herr;
  *res = std::exchange(lookup->answer, nullptr);
  return lookup->result;
}

// The names /etc/hosts gives, when nsswitch.conf asks "files" first for hosts: glibc then
// answers such a name from the file alone, and no query leaves the process. Read again
// whenever either file changes (their mtimes are checked at each lookup).
class HostsFile {
 public:
  // False too when anything fails (out of memory): the pool then answers, as before.
  bool answers(const char* name) noexcept {
    if (name == nullptr || *name == '\0') return false;
    try {
      std::string key(name);
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::lock_guard<std::mutex> held(lock_);
      refresh_locked();
      return files_first_ && names_.count(key) != 0;
    } catch (...) {
      return false;
    }
  }

 private:
  static std::int64_t mtime_ns(const char* path) {
    struct stat st;
    if (::stat(path, &st) != 0) return -1;
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }

  void refresh_locked() {
    const std::int64_t hosts = mtime_ns("/etc/hosts"), nss = mtime_ns("/etc/nsswitch.conf");
    if (hosts == hosts_mtime_ && nss == nss_mtime_) return;
    hosts_mtime_ = hosts;
    nss_mtime_ = nss;
    files_first_ = false;
    names_.clear();
    std::ifstream conf("/etc/nsswitch.conf");
    for (std::string line; std::getline(conf, line);) {
      std::istringstream words(line.substr(0, line.find('#')));
      std::string database, first;
      if (words >> database >> first && database == "hosts:") files_first_ = first == "files";
    }
    std::ifstream file("/etc/hosts");
    for (std::string line; std::getline(file, line);) {
      std::istringstream words(line.substr(0, line.find('#')));
      std::string address, name;
      if (!(words >> address)) continue;
      while (words >> name) {
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        names_.insert(name);
      }
    }
  }

  std::mutex lock_;
  std::int64_t hosts_mtime_ = -2, nss_mtime_ = -2;
  bool files_first_ = false;
  std::unordered_set<std::string> names_;
};

HostsFile& hosts_file() {
  static HostsFile* file = new HostsFile;  // never destroyed: lookups may run during exit
  return *file;
}

// Whether glibc answers getaddrinfo without leaving the process: no host, a numeric one (or
// AI_NUMERICHOST, which makes any other an error) or one /etc/hosts gives while
// nsswitch.conf asks it first; and no service or a numeric one. AI_CANONNAME goes to the
// pool.
bool answered_without_lookup(const char* node, const char* service, const addrinfo* hints) noexcept {
  const int flags = hints != nullptr ? hints->ai_flags : 0;
  if ((flags & AI_CANONNAME) != 0) return false;
  if (node != nullptr && (flags & AI_NUMERICHOST) == 0) {
    unsigned char address[sizeof(in6_addr)];
    const bool numeric = ::inet_pton(AF_INET, node, address) == 1 || ::inet_pton(AF_INET6, node, address) == 1;
    if (!numeric && !hosts_file().answers(node)) return false;
  }
  if (service != nullptr && (flags & AI_NUMERICSERV) == 0) {
    if (*service == '\0') return false;
    for (const char* c = service; *c != '\0'; ++c) {
      if (*c < '0' || *c > '9') return false;
    }
  }
  return true;
}

}  // namespace

extern "C" {

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  if (!in_fiber() || answered_without_lookup(node, service, hints)) {
    return WEFT_REAL(getaddrinfo)(node, service, hints, res);
  }
  return getaddrinfo_offloaded(node, service, hints, res);
}

int getnameinfo(const struct sockaddr* addr, socklen_t len, char* host, socklen_t hostlen,
                char* serv, socklen_t servlen, int flags) {
  constexpr int kNumericOnly = NI_NUMERICHOST | NI_NUMERICSERV;
  if (!in_fiber() || (flags & kNumericOnly) == kNumericOnly) {
    return WEFT_REAL(getnameinfo)(addr, len, host, hostlen, serv, servlen, flags);
  }
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
