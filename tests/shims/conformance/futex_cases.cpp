// syscall(): other system calls pass through with libc's results and errno; futex waits
// and wakes give the kernel's answers on a plain thread and in a fiber alike, private and
// shared, each kind of timeout, the errors the kernel reports before waiting, and the
// count a wake returns when it woke a waiter.
#include "conformance.hpp"
#include "timings.hpp"
#include "support/abs_time.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <string>
#include <thread>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(syscall)

namespace {

using namespace std::chrono_literals;

long futex(void* word, int op, std::uint32_t val, const timespec* ts = nullptr, std::uint32_t val3 = 0) {
  return ::syscall(SYS_futex, word, op, val, ts, nullptr, val3);
}

// A result as "r" or "-1/errno", so one case can report many calls.
struct Trace {
  std::string text;
  void add(const char* what, long r) {
    text += std::string(what) + "=" + (r < 0 ? "-1/" + std::to_string(errno) : std::to_string(r)) + " ";
  }
};

using weft_test::in_ms;

}  // namespace

TEST_CASE("syscall: other system calls are libc's, errno included") {
  const Outcome ref = check_conforms([] {
    Trace t;
    t.add("getpid-matches", ::syscall(SYS_getpid) == ::getpid() ? 1 : 0);
    t.add("write-bad-fd", ::syscall(SYS_write, -1, "x", 1));
    t.add("no-such-call", ::syscall(-1));
    t.add("close-bad-fd", ::syscall(SYS_close, -1));
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail == "getpid-matches=1 write-bad-fd=-1/9 no-such-call=-1/38 close-bad-fd=-1/9 ");
}

TEST_CASE("futex waits answer at once as the kernel does: a changed value, bad times, bad addresses, wakes of nobody") {
  for (const int priv : {FUTEX_PRIVATE_FLAG, 0}) {
    INFO("private flag: " << priv);
    const Outcome ref = check_conforms([priv] {
      alignas(8) std::uint32_t word[2] = {7, 0};
      Trace t;
      t.add("wait-changed", futex(word, FUTEX_WAIT | priv, 6));
      t.add("bitset-changed", futex(word, FUTEX_WAIT_BITSET | priv, 6, nullptr, FUTEX_BITSET_MATCH_ANY));
      timespec bad{0, 1'000'000'000};
      t.add("wait-bad-nsec", futex(word, FUTEX_WAIT | priv, 7, &bad));
      timespec negative{-1, 0};
      t.add("wait-negative", futex(word, FUTEX_WAIT | priv, 7, &negative));
      t.add("bitset-negative", futex(word, FUTEX_WAIT_BITSET | priv, 7, &negative, FUTEX_BITSET_MATCH_ANY));
      timespec zero{0, 0};
      t.add("wait-zero", futex(word, FUTEX_WAIT | priv, 7, &zero));
      t.add("bitset-epoch", futex(word, FUTEX_WAIT_BITSET | priv, 7, &zero, FUTEX_BITSET_MATCH_ANY));
      t.add("bitset-realtime-epoch",
            futex(word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | priv, 7, &zero, FUTEX_BITSET_MATCH_ANY));
      t.add("bitset-zero-mask", futex(word, FUTEX_WAIT_BITSET | priv, 7, &zero, 0));
      t.add("misaligned", futex(reinterpret_cast<char*>(word) + 1, FUTEX_WAIT | priv, 7));
      t.add("null", futex(nullptr, FUTEX_WAIT | priv, 0));
      t.add("wake-nobody", futex(word, FUTEX_WAKE | priv, 1));
      t.add("wake-all-nobody", futex(word, FUTEX_WAKE | priv, INT_MAX));
      t.add("wake-bitset-zero", futex(word, FUTEX_WAKE_BITSET | priv, 1, nullptr, 0));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("wait-changed=-1/11 bitset-changed=-1/11 wait-bad-nsec=-1/22") != std::string::npos);
    CHECK(ref.detail.find("wait-zero=-1/110 bitset-epoch=-1/110") != std::string::npos);
  }
}

TEST_CASE("futex waits time out as late as the kernel's, on each clock") {
  for (const int priv : {FUTEX_PRIVATE_FLAG, 0}) {
    INFO("private flag: " << priv);
    weft_test::Timings relative, monotonic, realtime;
    const Outcome ref = check_conforms([&] {
      std::uint32_t word = 3;
      Trace t;
      auto t0 = weft_test::Clock::now();
      timespec rel{0, 40'000'000};
      t.add("wait", futex(&word, FUTEX_WAIT | priv, 3, &rel));
      relative.ms.push_back(weft_test::ms_since(t0));
      t0 = weft_test::Clock::now();
      timespec at = in_ms(CLOCK_MONOTONIC, 40);
      t.add("bitset-mono", futex(&word, FUTEX_WAIT_BITSET | priv, 3, &at, FUTEX_BITSET_MATCH_ANY));
      monotonic.ms.push_back(weft_test::ms_since(t0));
      t0 = weft_test::Clock::now();
      at = in_ms(CLOCK_REALTIME, 40);
      t.add("bitset-real", futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME | priv, 3, &at, FUTEX_BITSET_MATCH_ANY));
      realtime.ms.push_back(weft_test::ms_since(t0));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail == "wait=-1/110 bitset-mono=-1/110 bitset-real=-1/110 ");
    relative.check(40);
    monotonic.check(40);
    realtime.check(40);
  }
}

TEST_CASE("a futex wait is woken by a plain thread's wake, which counts it") {
  for (const int priv : {FUTEX_PRIVATE_FLAG, 0}) {
    INFO("private flag: " << priv);
    const Outcome ref = check_conforms([priv] {
      std::atomic<std::uint32_t> word{0};
      std::atomic<long> woke{0};
      // Wakes until a wake finds the waiter, which may not be waiting yet. (The kernel
      // does not wake a private word on the stack spuriously, so one wait is enough.)
      std::thread waker([&] {
        long n = 0;
        while ((n = futex(&word, FUTEX_WAKE | priv, 1)) == 0) std::this_thread::sleep_for(1ms);
        woke = n;
      });
      Trace t;
      const long r = futex(&word, FUTEX_WAIT | priv, 0);
      t.add("wait", r);
      waker.join();
      t.add("wake", woke.load());
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail == "wait=0 wake=1 ");
  }
}
