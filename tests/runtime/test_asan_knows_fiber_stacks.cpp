// AddressSanitizer builds: an exception thrown in a fiber leaves the fiber's stack clean.
//
// A throw calls __asan_handle_no_return, which clears the shadow of the frames the unwind
// abandons (their redzones would otherwise stay poisoned). It clears from the stack pointer
// to the top of the stack ASan believes it is on. Told nothing of fiber switches, ASan
// took a fiber's stack for its worker thread's, found "the stack" tens of MB long, and
// skipped the clearing ("ASan is ignoring requested __asan_handle_no_return: stack type:
// default"). The stale redzones then reported a stack-buffer-underflow in whatever next
// wrote a stack object at that depth from uninstrumented code: weft_stress cancel_parked
// failed so (sigaltstack's interceptor, inside the next throw's own handle_no_return).
//
// The check: after a throw from deep frames and its catch, no byte of the stack below the
// catching frame is poisoned. On a plain thread (the control) ASan knows the stack and
// this holds; in a fiber it held only once weft announced its switches (asan_annotations).
// Outside ASan builds there is no shadow to look at, and the cases only run the code.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#include <sanitizer/asan_interface.h>
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

namespace {

constexpr int kDepth = 24;  // frames of ~300 bytes with redzones: ~10 KiB of stack

struct Thrown : std::runtime_error {
  Thrown() : std::runtime_error("thrown from deep frames") {}
};

// Each frame has a local array, so instrumented code gives it redzones.
[[gnu::noinline]] int throw_from_depth(int depth) {
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  if (depth == 0) throw Thrown();
  return throw_from_depth(depth - 1) + pad[0];
}

// Not instrumented: its frame gets no shadow of its own, so `below` shows whatever the
// abandoned frames left there. Returns how many bytes of it are poisoned (0 outside ASan).
NO_ASAN [[gnu::noinline]] std::size_t poisoned_bytes_below_here() {
  volatile char below[32 * 1024];
  below[0] = 0;
  auto* p = const_cast<char*>(below);
  std::size_t poisoned = p[0];  // 0; and `below` is used outside ASan builds too
#ifdef ASAN_BUILD
  for (std::size_t i = 0; i < sizeof below; i += 8) {
    if (__asan_address_is_poisoned(p + i)) poisoned += 8;
  }
#endif
  return poisoned;
}

// Throws from kDepth frames down, catches, and looks at the stack the unwind left.
std::size_t poisoned_after_a_throw() {
  try {
    throw_from_depth(kDepth);
  } catch (const Thrown&) {
  }
  return poisoned_bytes_below_here();
}

}  // namespace

TEST_CASE("control: on a plain thread a caught exception leaves no poisoned stack below") {
  std::size_t poisoned = 1;
  std::thread t([&] { poisoned = poisoned_after_a_throw(); });
  t.join();
  CHECK(poisoned == 0);
}

TEST_CASE("in fibers on two workers, each a throw after switches, no stack is left poisoned") {
  // ASan's fallback, the thread's stack top, is wrong for a fiber, but when the fiber's
  // stack lies within 64 MiB below it ASan clears everything in between and the stale
  // redzones go too. Fibers made later than a big mapping sit further away, as in a long
  // run: 200 fibers parked first take the nearby stacks, then 200 MiB are reserved.
  weft::Event release;
  std::vector<weft::Unfuture<void>> parked;
  for (int i = 0; i < 200; ++i) parked.push_back(weft::spawn([&release] { release.wait(); }));
  const std::size_t gap = std::size_t{200} << 20;
  void* far = ::mmap(nullptr, gap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  REQUIRE(far != MAP_FAILED);

  // Fibers that park and resume between throws: the stack ASan must know is the one the
  // worker switched to, on every worker, each time.
  std::atomic<std::size_t> worst{0};
  std::vector<weft::Unfuture<void>> fibers;
  for (int i = 0; i < 400; ++i) {
    fibers.push_back(weft::spawn([&worst] {
      for (int round = 0; round < 3; ++round) {
        weft::this_fiber::yield();
        weft::sleep_for(std::chrono::microseconds(200));
        const std::size_t p = poisoned_after_a_throw();
        std::size_t seen = worst.load();
        while (p > seen && !worst.compare_exchange_weak(seen, p)) {
        }
      }
    }));
  }
  for (auto& f : fibers) f.get();
  release.set();
  for (auto& f : parked) f.get();
  ::munmap(far, gap);
  CHECK_MESSAGE(worst.load() == 0, worst.load() << " bytes of a fiber's stack left poisoned by a caught exception");
}
