// A std::shared_mutex held for writing across a hooked sleep while other fibers of the
// same (only) worker want it for reading and writing. Before the rwlock shims the first
// reader's pthread_rwlock_rdlock blocked the worker thread in glibc (or, asked by a fiber
// of the writer's own thread, said EDEADLK, which libstdc++ throws), so the writer never
// woke again. Now the readers and the second writer park: every fiber finishes, the
// writers are alone inside, and readers share the lock (two inside at once, each holding
// it across a hooked sleep).
#include "support/one_worker.hpp"

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <shared_mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// A deadlock would hang the worker for ever: fail instead, and leave without cleanup.
template <class T>
T get_or_die(weft::Unfuture<T>& done, const char* what) {
  if (!done.wait_for(30s * WEFT_TEST_SLACK)) {
    std::fprintf(stderr, "deadlock: %s never finished\n", what);
    std::fflush(stderr);
    ::_exit(1);
  }
  return done.get();
}

struct Inside {
  std::atomic<int> readers{0}, writers{0}, most_readers{0};
  std::atomic<bool> excluded_broken{false};

  void reader_enters() {
    const int now = ++readers;
    int most = most_readers.load();
    while (now > most && !most_readers.compare_exchange_weak(most, now)) {
    }
    if (writers.load() != 0) excluded_broken = true;
  }
  void writer_enters() {
    if (++writers != 1 || readers.load() != 0) excluded_broken = true;
  }
};

}  // namespace

TEST_CASE("fibers of one worker wait for a std::shared_mutex written across a hooked sleep, then read it together") {
  weft_test::one_worker();
  std::shared_mutex sm;
  Inside inside;
  auto done = weft::spawn([&] {
    std::atomic<bool> writing{false};
    auto first_writer = weft::spawn([&] {
      std::unique_lock lk(sm);
      inside.writer_enters();
      writing = true;
      std::this_thread::sleep_for(40ms);  // hooked: the others run and must wait
      --inside.writers;
    });
    while (!writing) std::this_thread::sleep_for(1ms);
    std::vector<weft::Unfuture<void>> others;
    for (int i = 0; i < 3; ++i) {
      others.push_back(weft::spawn([&] {
        std::shared_lock lk(sm);
        inside.reader_enters();
        std::this_thread::sleep_for(20ms);  // the other readers get in meanwhile
        --inside.readers;
      }));
    }
    others.push_back(weft::spawn([&] {
      std::unique_lock lk(sm);
      inside.writer_enters();
      std::this_thread::sleep_for(5ms);
      --inside.writers;
    }));
    first_writer.get();
    for (auto& o : others) o.get();
  });
  get_or_die(done, "the fibers sharing the std::shared_mutex");
  CHECK_FALSE(inside.excluded_broken.load());
  CHECK(inside.most_readers.load() >= 2);  // readers shared it, not one after another
}

TEST_CASE("a timed shared lock of a std::shared_timed_mutex written by a fiber of the same worker waits its time, then gives up") {
  weft_test::one_worker();
  std::shared_timed_mutex stm;
  auto done = weft::spawn([&] {
    std::atomic<bool> writing{false};
    auto writer = weft::spawn([&] {
      std::unique_lock lk(stm);
      writing = true;
      std::this_thread::sleep_for(150ms);
    });
    while (!writing) std::this_thread::sleep_for(1ms);
    const auto t0 = std::chrono::steady_clock::now();
    // libc says EDEADLK at once to the writer's thread, which libstdc++ takes for "no".
    const bool got = stm.try_lock_shared_for(30ms);
    const auto waited = std::chrono::steady_clock::now() - t0;
    if (got) stm.unlock_shared();
    std::shared_lock lk(stm);  // now waits for the writer
    const bool writer_done = writer.ready();
    return std::tuple{got, waited, writer_done};
  });
  const auto [got, waited, writer_done] = get_or_die(done, "the timed shared lock");
  INFO("waited " << std::chrono::duration<double, std::milli>(waited).count() << " ms");
  CHECK_FALSE(got);
  CHECK(waited >= 29ms);
  CHECK(writer_done);
}
