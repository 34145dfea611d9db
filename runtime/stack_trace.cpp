#include "stack_trace.hpp"

#include "thread_context.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace weft::rt {

namespace {

// What of libunwind's x86-64 ABI (1.x, as in Debian's libunwind8) is used here, declared
// locally so that building needs no libunwind-dev: its context is the ucontext_t, its
// cursor an opaque block of 127 words, registers are numbered as in <libunwind-x86_64.h>.
using unw_word_t = std::uint64_t;
struct UnwCursor {
  unw_word_t opaque[127];
};
constexpr int kUnwRip = 16;
using InitLocal = int (*)(UnwCursor*, ucontext_t*);
using Step = int (*)(UnwCursor*);
using GetReg = int (*)(UnwCursor*, int, unw_word_t*);
using AddressSpace = void*;
using SetCachingPolicy = int (*)(AddressSpace, int);
constexpr int kUnwCachePerThread = 2;  // unw_caching_policy_t's UNW_CACHE_PER_THREAD

struct Libunwind {
  InitLocal init_local = nullptr;
  Step step = nullptr;
  GetReg get_reg = nullptr;
  std::string problem;
};

const Libunwind& libunwind() {
  static const Libunwind lib = [] {
    Libunwind l;
    void* h = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      l.problem = std::string("no libunwind (install the libunwind8 package): ") + (e != nullptr ? e : "?");
      return l;
    }
    l.init_local = reinterpret_cast<InitLocal>(::dlsym(h, "_ULx86_64_init_local"));
    l.step = reinterpret_cast<Step>(::dlsym(h, "_ULx86_64_step"));
    l.get_reg = reinterpret_cast<GetReg>(::dlsym(h, "_ULx86_64_get_reg"));
    if (l.init_local == nullptr || l.step == nullptr || l.get_reg == nullptr) {
      l.problem = "libunwind.so.8 lacks the x86-64 local unwinding functions";
      l.init_local = nullptr;
      return l;
    }
    // Its default cache of unwinding rules is shared, behind a pthread mutex taken on
    // every step: in fibers, where weft's lock shims make that mutex park, two workers
    // walking stacks at once (a dump) hand it back and forth thousands of times a
    // second. A cache per thread takes no lock.
    auto set_policy = reinterpret_cast<SetCachingPolicy>(::dlsym(h, "_ULx86_64_set_caching_policy"));
    auto* local_space = static_cast<AddressSpace*>(::dlsym(h, "_ULx86_64_local_addr_space"));
    if (set_policy != nullptr && local_space != nullptr) (void)set_policy(*local_space, kUnwCachePerThread);
    return l;
  }();
  return lib;
}

}  // namespace

bool warm_up_unwinder() noexcept {
  try {
    return libunwind().init_local != nullptr;
  } catch (...) {
    return false;
  }
}

void warm_up_backtrace() noexcept {
  void* one[1];
  (void)::backtrace(one, 1);
}

std::size_t capture_here(void** pcs, std::size_t max) noexcept {
  const int n = ::backtrace(pcs, static_cast<int>(max));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t unwind_from(const UnwindStart& start, void** pcs, std::size_t max, std::string* why) noexcept {
#if defined(__x86_64__)
  try {
    const Libunwind& lib = libunwind();
    if (lib.init_local == nullptr) {
      if (why != nullptr) *why = lib.problem;
      return 0;
    }
    ucontext_t uc;
    std::memset(&uc, 0, sizeof uc);
    greg_t* regs = uc.uc_mcontext.gregs;
    regs[REG_RIP] = static_cast<greg_t>(start.pc);
    regs[REG_RSP] = static_cast<greg_t>(start.sp);
    regs[REG_RBP] = static_cast<greg_t>(start.bp);
    regs[REG_RBX] = static_cast<greg_t>(start.bx);
    regs[REG_R12] = static_cast<greg_t>(start.r12);
    regs[REG_R13] = static_cast<greg_t>(start.r13);
    regs[REG_R14] = static_cast<greg_t>(start.r14);
    regs[REG_R15] = static_cast<greg_t>(start.r15);
    const LocksBlockThread no_parking;
    UnwCursor cursor;
    if (lib.init_local(&cursor, &uc) < 0) {
      if (why != nullptr) *why = "libunwind could not start from the thread's registers";
      return 0;
    }
    std::size_t n = 0;
    do {
      unw_word_t ip = 0;
      if (lib.get_reg(&cursor, kUnwRip, &ip) < 0 || ip == 0) break;
      pcs[n++] = reinterpret_cast<void*>(ip);
    } while (n < max && lib.step(&cursor) > 0);
    return n;
  } catch (...) {
    if (why != nullptr) *why = "out of memory";
    return 0;
  }
#else
  (void)start, (void)pcs, (void)max;
  if (why != nullptr) *why = "unwinding another thread's stack is done on x86-64 only";
  return 0;
#endif
}

std::string describe_code_address(const void* pc) {
  Dl_info info{};
  char buf[64];
  if (::dladdr(pc, &info) == 0) {
    std::snprintf(buf, sizeof buf, "%p", pc);
    return buf;
  }
  const char* object = info.dli_fname != nullptr ? info.dli_fname : "?";
  if (const char* slash = std::strrchr(object, '/')) object = slash + 1;
  std::string out;
  if (info.dli_sname != nullptr) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    out = status == 0 && demangled != nullptr ? demangled : info.dli_sname;
    std::free(demangled);
    std::snprintf(buf, sizeof buf, "+0x%zx",
                  static_cast<std::size_t>(static_cast<const char*>(pc) - static_cast<const char*>(info.dli_saddr)));
  } else {
    out = "??";
    std::snprintf(buf, sizeof buf, "+0x%zx",
                  static_cast<std::size_t>(static_cast<const char*>(pc) - static_cast<const char*>(info.dli_fbase)));
  }
  out += buf;
  out += " (";
  out += object;
  out += ")";
  return out;
}

}  // namespace weft::rt
