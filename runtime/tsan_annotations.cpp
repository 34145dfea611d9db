// The TSan fiber of each Boost context a worker runs (see tsan_annotations.hpp). Empty
// outside TSan builds.
#include "tsan_annotations.hpp"

#ifdef WEFT_TSAN_BUILD

#include <boost/fiber/context.hpp>
#include <sanitizer/common_interface_defs.h>

#include <cstdio>
#include <cstdlib>
#include <unordered_map>
#include <vector>

// TSan's own test hook (not in its header): the depth of the running fiber's shadow stack.
// Weak, so a runtime without it only skips the check that uses it.
extern "C" __attribute__((weak)) unsigned long __tsan_testonly_shadow_stack_current_size();

namespace weft::rt::tsan {

namespace {

// Per worker thread: a context runs only on the worker that first ran it, and a finished
// one is forgotten there, so no lock is needed. The main context is entered on its first
// switch away, as the thread's own TSan state.
//
// A finished fiber's TSan state is kept for the next new context rather than destroyed:
// TSan takes milliseconds and over a megabyte of fresh memory to create one, which would
// turn every spawn into a stall. Reuse changes nothing TSan can tell: a worker's fibers
// are one sequence of events anyway, and a finished fiber leaves no frame on its shadow
// stack (checked below).
struct Fibers {
  std::unordered_map<boost::fibers::context*, void*> of;
  std::vector<void*> spare;
};
thread_local Fibers* fibers = nullptr;

[[noreturn]] void broken(const char* what) noexcept {
  std::fprintf(stderr, "weft: TSan annotations: %s\n", what);
  std::abort();
}

// Not instrumented, like its caller: see switching_to.
WEFT_TSAN_UNINSTRUMENTED void* fiber_of(Fibers& f, boost::fibers::context* ctx,
                                        bool running) noexcept {
  auto [it, added] = f.of.try_emplace(ctx, nullptr);
  if (!added) return it->second;
  if (running) {
    if (!ctx->is_context(boost::fibers::type::main_context)) {
      broken("a fiber ran without its switch being announced");
    }
    it->second = __tsan_get_current_fiber();
  } else if (!f.spare.empty()) {
    it->second = f.spare.back();
    f.spare.pop_back();
  } else {
    it->second = __tsan_create_fiber(0);
    __tsan_set_fiber_name(it->second, ctx->is_context(boost::fibers::type::dispatcher_context)
                                          ? "boost dispatcher"
                                          : "weft fiber");
  }
  return it->second;
}

}  // namespace

// Not instrumented: it starts on one TSan fiber and ends on another, and an instrumented
// frame would be pushed on the first fiber's shadow stack and popped from the second's.
WEFT_TSAN_UNINSTRUMENTED boost::fibers::context* switching_to(
    boost::fibers::context* next) noexcept {
  boost::fibers::context* running = boost::fibers::context::active();
  if (next == nullptr || next == running) return next;
  if (fibers == nullptr) fibers = new Fibers;  // worker threads never exit
  void* from = fiber_of(*fibers, running, true);
  void* to = fiber_of(*fibers, next, false);
  // Boost's terminate() links the finishing context into its terminated queue before it
  // asks for the next one; that context never runs again (its stack is unwound and freed
  // later by uninstrumented code only).
  const bool finished = running->terminated_is_linked();
  if (finished && __tsan_testonly_shadow_stack_current_size != nullptr &&
      __tsan_testonly_shadow_stack_current_size() != 0) {
    broken("a finished fiber left frames on its shadow stack (instrumented Boost.Context "
           "trampolines? see fiber_start.cpp)");
  }
  __tsan_switch_to_fiber(to, 0);
  __tsan_acquire(next);  // wake-ups from other threads (wakes())
  if (finished) {
    fibers->of.erase(running);
    fibers->spare.push_back(from);
  }
  return next;
}

void start_symbolizer() noexcept {
  char name[64];
  __sanitizer_symbolize_pc(reinterpret_cast<void*>(&start_symbolizer), "%f", name, sizeof name);
}

}  // namespace weft::rt::tsan

#endif
