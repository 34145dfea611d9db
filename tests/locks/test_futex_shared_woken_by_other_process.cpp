// A fiber's wait on a shared (non-PRIVATE) futex in MAP_SHARED memory, woken by another
// process: that wake goes to the kernel only, where the fiber does not sleep, so the shim
// looks at the word again every few milliseconds (up to 50 ms). Without that re-look the
// fiber would stay parked for ever (the deadlock guard fails the test); with it the wait
// returns 0 within 50 ms of the change, plus the machine's own stalls.
#include "support/deadlock_guard.hpp"
#include "support/one_worker.hpp"
#include "support/stall_watch.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <tuple>

using namespace std::chrono_literals;

TEST_CASE("a fiber's shared futex wait ends when another process changes the word and wakes it") {
  weft_test::one_worker();
  weft_test::StallWatch watch;
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(mem != MAP_FAILED);
  auto* word = static_cast<std::uint32_t*>(mem);
  auto* changed_at_ns = reinterpret_cast<std::int64_t*>(static_cast<char*>(mem) + 64);  // the child's clock
  *word = 0;
  auto done = weft::spawn([word] {
    const auto t0 = std::chrono::steady_clock::now();
    long r = 0;
    int err = 0;
    // The kernel may also return 0 spuriously; only a change ends the wait.
    while (__atomic_load_n(word, __ATOMIC_SEQ_CST) == 0) {
      r = ::syscall(SYS_futex, word, FUTEX_WAIT, 0u, nullptr, nullptr, 0);
      err = r < 0 ? errno : 0;
      if (r != 0 && err != EAGAIN) break;
    }
    const auto end = std::chrono::steady_clock::now();
    return std::tuple{r, err, end - t0, end.time_since_epoch()};
  });
  // The child: from a plain thread, so it is a plain process with no runtime.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::usleep(100'000);
    *changed_at_ns = std::chrono::steady_clock::now().time_since_epoch().count();
    __atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
    ::syscall(SYS_futex, word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
    ::_exit(0);
  }
  const auto [r, err, took, ended] = weft_test::finish_or_die(done, "a shared futex wait missed another process's wake");
  int status = 0;
  ::waitpid(child, &status, 0);
  const auto late = ended - std::chrono::nanoseconds(*changed_at_ns);
  ::munmap(mem, 4096);
  INFO("waited " << std::chrono::duration<double, std::milli>(took).count() << " ms, "
       << std::chrono::duration<double, std::milli>(late).count() << " ms after the change, errno " << err);
  CHECK((r == 0 || err == EAGAIN));
  CHECK(took >= 90ms);  // it did wait for the child
  CHECK(late < 50ms + 50ms * WEFT_TEST_SLACK + watch.worst());
}
