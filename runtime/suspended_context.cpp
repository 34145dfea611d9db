#include "suspended_context.hpp"

#include <boost/context/fiber.hpp>

#include <cstdint>

namespace weft::rt {

namespace {

// Naming a private member is allowed in an explicit instantiation, and only there; this
// is the one place weft reaches inside Boost's classes, to read two pointers.
template <class Tag, typename Tag::type Member>
struct Reveal {
  friend typename Tag::type member(Tag) { return Member; }
};

struct FiberOfContext {
  using type = boost::context::fiber boost::fibers::context::*;
  friend type member(FiberOfContext);
};
template struct Reveal<FiberOfContext, &boost::fibers::context::c_>;

struct FcontextOfFiber {
  using type = boost::context::detail::fcontext_t boost::context::fiber::*;
  friend type member(FcontextOfFiber);
};
template struct Reveal<FcontextOfFiber, &boost::context::fiber::fctx_>;

}  // namespace

// The block lies on another fiber's stack, below its last frame, where ASan may still
// hold stale poison from frames that ran there before: the read is not the program's.
__attribute__((no_sanitize("address"))) bool suspended_registers(const boost::fibers::context& ctx,
                                                                  UnwindStart& out) noexcept {
#if defined(__x86_64__) && !defined(BOOST_USE_UCONTEXT) && !defined(BOOST_USE_WINFIB)
  const boost::context::fiber& f = ctx.*member(FiberOfContext{});
  const void* fctx = f.*member(FcontextOfFiber{});
  if (fctx == nullptr) return false;
  // jump_fcontext and ontop_fcontext (Boost 1.74, x86-64 System V) push, from fctx up:
  // MXCSR and the x87 control word (8 bytes), r12, r13, r14, r15, rbx, rbp, then the
  // return address of the call that switched; on resuming, rsp is just past it.
  const auto* saved = static_cast<const std::uintptr_t*>(fctx);
  out.r12 = saved[1];
  out.r13 = saved[2];
  out.r14 = saved[3];
  out.r15 = saved[4];
  out.bx = saved[5];
  out.bp = saved[6];
  out.pc = saved[7];
  out.sp = reinterpret_cast<std::uintptr_t>(saved + 8);
  return true;
#else
  (void)ctx, (void)out;
  return false;
#endif
}

}  // namespace weft::rt
