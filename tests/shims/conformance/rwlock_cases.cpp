// pthread rwlocks: the results libc gives on a plain thread, in a fiber too: a holder's
// own relocks (EDEADLK for a writer), tries of a lock held elsewhere for reading or
// writing, timed forms timing out as late as libc's, bad times and clocks (EINVAL, before
// anything else), the unlock of each kind, and a process-shared rwlock, which a fiber
// polls. (Concurrency between fibers and threads has its own tests in tests/locks.)
#include "conformance.hpp"
#include "timings.hpp"
#include "support/abs_time.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(pthread_rwlock_rdlock)
WEFT_CONFORMS(pthread_rwlock_tryrdlock)
WEFT_CONFORMS(pthread_rwlock_timedrdlock)
WEFT_CONFORMS(pthread_rwlock_clockrdlock)
WEFT_CONFORMS(pthread_rwlock_wrlock)
WEFT_CONFORMS(pthread_rwlock_trywrlock)
WEFT_CONFORMS(pthread_rwlock_timedwrlock)
WEFT_CONFORMS(pthread_rwlock_clockwrlock)
WEFT_CONFORMS(pthread_rwlock_unlock)

namespace {

// An rwlock of one kind, process-shared or not, made and destroyed around each act.
struct RwLock {
  explicit RwLock(int kind = PTHREAD_RWLOCK_PREFER_READER_NP, bool shared = false) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, kind);
    pthread_rwlockattr_setpshared(&a, shared ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
    pthread_rwlock_init(&rw, &a);
    pthread_rwlockattr_destroy(&a);
  }
  ~RwLock() { pthread_rwlock_destroy(&rw); }
  pthread_rwlock_t rw;
};

using weft_test::in_ms;

struct Trace {
  std::string text;
  void add(const char* what, int r) { text += std::string(what) + "=" + std::to_string(r) + " "; }
};

enum class Mode { read, write };

// Holds rw on another plain thread, for reading or writing, for the length of a scope.
class HeldElsewhere {
 public:
  HeldElsewhere(pthread_rwlock_t& rw, Mode mode) : rw_(rw), t_([this, mode] {
      if (mode == Mode::read) {
        pthread_rwlock_rdlock(&rw_);
      } else {
        pthread_rwlock_wrlock(&rw_);
      }
      locked_.test_and_set();
      locked_.notify_all();
      while (!release_.test()) release_.wait(false);
      pthread_rwlock_unlock(&rw_);
    }) {
    locked_.wait(false);
  }
  ~HeldElsewhere() { release(); }

  // Lets the holder unlock, and waits until it has (from any thread, more than once).
  void release() {
    std::call_once(released_, [this] {
      release_.test_and_set();
      release_.notify_all();
      t_.join();
    });
  }

 private:
  pthread_rwlock_t& rw_;
  std::atomic_flag locked_, release_;
  std::once_flag released_;
  std::thread t_;
};

}  // namespace

TEST_CASE("rdlock, wrlock, their tries and unlock by the holder itself: shared reads, EDEADLK and EBUSY for a writer") {
  for (const bool shared : {false, true}) {
    INFO("process-shared: " << shared);
    const Outcome ref = check_conforms([shared] {
      RwLock l(PTHREAD_RWLOCK_PREFER_READER_NP, shared);
      Trace t;
      t.add("rdlock", pthread_rwlock_rdlock(&l.rw));
      t.add("rdlock-again", pthread_rwlock_rdlock(&l.rw));  // readers recurse
      t.add("tryrdlock", pthread_rwlock_tryrdlock(&l.rw));
      t.add("trywrlock-read-held", pthread_rwlock_trywrlock(&l.rw));  // EBUSY
      for (int i = 0; i < 3; ++i) t.add("unlock-read", pthread_rwlock_unlock(&l.rw));
      t.add("wrlock", pthread_rwlock_wrlock(&l.rw));
      t.add("wrlock-again", pthread_rwlock_wrlock(&l.rw));  // EDEADLK
      t.add("rdlock-own-write", pthread_rwlock_rdlock(&l.rw));  // EDEADLK
      timespec at = in_ms(CLOCK_MONOTONIC, 10);
      t.add("clockrdlock-own-write", pthread_rwlock_clockrdlock(&l.rw, CLOCK_MONOTONIC, &at));  // EDEADLK
      t.add("tryrdlock-own-write", pthread_rwlock_tryrdlock(&l.rw));  // EBUSY
      t.add("trywrlock-own-write", pthread_rwlock_trywrlock(&l.rw));  // EBUSY
      t.add("unlock-write", pthread_rwlock_unlock(&l.rw));
      t.add("trywrlock-free", pthread_rwlock_trywrlock(&l.rw));
      t.add("unlock-write", pthread_rwlock_unlock(&l.rw));
      t.add("tryrdlock-free", pthread_rwlock_tryrdlock(&l.rw));
      t.add("unlock-read", pthread_rwlock_unlock(&l.rw));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("wrlock-again=35 rdlock-own-write=35") != std::string::npos);
    CHECK(ref.detail.find("trywrlock-free=0") != std::string::npos);
  }
}

TEST_CASE("tries of an rwlock held elsewhere: readers share a read lock, everyone is refused a write lock") {
  for (const Mode mode : {Mode::read, Mode::write}) {
    INFO("held for " << (mode == Mode::read ? "reading" : "writing"));
    const Outcome ref = check_conforms([mode] {
      RwLock l;
      HeldElsewhere held(l.rw, mode);
      Trace t;
      const int rd = pthread_rwlock_tryrdlock(&l.rw);
      t.add("tryrdlock", rd);
      if (rd == 0) t.add("unlock", pthread_rwlock_unlock(&l.rw));
      t.add("trywrlock", pthread_rwlock_trywrlock(&l.rw));
      timespec past{0, 0};
      t.add("timedwrlock-past", pthread_rwlock_timedwrlock(&l.rw, &past));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("trywrlock=16 timedwrlock-past=110") != std::string::npos);
  }
}

TEST_CASE("timed rdlock and wrlock of an rwlock written elsewhere: ETIMEDOUT as late as libc's, EINVAL for bad times") {
  for (const bool shared : {false, true}) {
    INFO("process-shared: " << shared);
    weft_test::Timings rd_timings, wr_timings;
    const Outcome ref = check_conforms([&] {
      RwLock l(PTHREAD_RWLOCK_PREFER_READER_NP, shared);
      HeldElsewhere held(l.rw, Mode::write);
      Trace t;
      auto t0 = weft_test::Clock::now();
      timespec at = in_ms(CLOCK_REALTIME, 60);
      t.add("timedrdlock", pthread_rwlock_timedrdlock(&l.rw, &at));
      rd_timings.ms.push_back(weft_test::ms_since(t0));
      t0 = weft_test::Clock::now();
      at = in_ms(CLOCK_MONOTONIC, 60);
      t.add("clockwrlock-mono", pthread_rwlock_clockwrlock(&l.rw, CLOCK_MONOTONIC, &at));
      wr_timings.ms.push_back(weft_test::ms_since(t0));
      at = in_ms(CLOCK_REALTIME, 1);
      t.add("clockrdlock-real", pthread_rwlock_clockrdlock(&l.rw, CLOCK_REALTIME, &at));
      at = in_ms(CLOCK_MONOTONIC, 1);
      t.add("timedwrlock-mono-time-as-real", pthread_rwlock_timedwrlock(&l.rw, &at));  // long past
      timespec bad{0, 1'000'000'000};
      t.add("timedrdlock-bad-nsec", pthread_rwlock_timedrdlock(&l.rw, &bad));
      t.add("timedwrlock-bad-nsec", pthread_rwlock_timedwrlock(&l.rw, &bad));
      timespec negative{-1, 0};
      t.add("timedrdlock-negative", pthread_rwlock_timedrdlock(&l.rw, &negative));
      t.add("clockwrlock-negative", pthread_rwlock_clockwrlock(&l.rw, CLOCK_MONOTONIC, &negative));
      at = in_ms(CLOCK_MONOTONIC, 10);
      t.add("clockrdlock-bad-clock", pthread_rwlock_clockrdlock(&l.rw, CLOCK_PROCESS_CPUTIME_ID, &at));
      t.add("clockwrlock-bad-clock", pthread_rwlock_clockwrlock(&l.rw, CLOCK_THREAD_CPUTIME_ID, &at));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("timedrdlock=110 clockwrlock-mono=110") != std::string::npos);
    CHECK(ref.detail.find("clockrdlock-bad-clock=22") != std::string::npos);
    rd_timings.check(60);
    wr_timings.check(60);
  }
}

TEST_CASE("timed forms of a free rwlock: EINVAL for a bad time or clock even so, 0 for a past time") {
  const Outcome ref = check_conforms([] {
    RwLock l;
    Trace t;
    timespec bad{0, -1};
    t.add("timedrdlock-bad-nsec", pthread_rwlock_timedrdlock(&l.rw, &bad));
    t.add("timedwrlock-bad-nsec", pthread_rwlock_timedwrlock(&l.rw, &bad));
    timespec past{0, 0};
    t.add("clockrdlock-bad-clock", pthread_rwlock_clockrdlock(&l.rw, CLOCK_PROCESS_CPUTIME_ID, &past));
    t.add("timedrdlock-past", pthread_rwlock_timedrdlock(&l.rw, &past));
    t.add("unlock", pthread_rwlock_unlock(&l.rw));
    t.add("clockwrlock-past", pthread_rwlock_clockwrlock(&l.rw, CLOCK_MONOTONIC, &past));
    t.add("unlock", pthread_rwlock_unlock(&l.rw));
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail.find("timedrdlock-bad-nsec=22") != std::string::npos);
  CHECK(ref.detail.find("timedrdlock-past=0") != std::string::npos);
}

TEST_CASE("rdlock and wrlock wait for an rwlock held elsewhere until its unlock") {
  for (const bool shared : {false, true}) {
    INFO("process-shared: " << shared);
    const Outcome ref = check_conforms([shared] {
      RwLock l(PTHREAD_RWLOCK_PREFER_READER_NP, shared);
      Trace t;
      {
        HeldElsewhere held(l.rw, Mode::write);
        weft_test::Later unlock_later(std::chrono::milliseconds(30), [&] { held.release(); });
        t.add("rdlock", pthread_rwlock_rdlock(&l.rw));
        t.add("unlock", pthread_rwlock_unlock(&l.rw));
      }
      {
        HeldElsewhere held(l.rw, Mode::read);
        weft_test::Later unlock_later(std::chrono::milliseconds(30), [&] { held.release(); });
        t.add("wrlock", pthread_rwlock_wrlock(&l.rw));
        t.add("unlock", pthread_rwlock_unlock(&l.rw));
      }
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail == "rdlock=0 unlock=0 wrlock=0 unlock=0 ");
  }
}

TEST_CASE("a writer-preferring rwlock refuses a new reader while a writer waits, as libc's does") {
  const Outcome ref = check_conforms([] {
    RwLock l(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    Trace t;
    HeldElsewhere held(l.rw, Mode::read);
    std::atomic<bool> writer_in{false};
    std::thread writer([&] {
      pthread_rwlock_wrlock(&l.rw);  // waits for `held`
      writer_in = true;
      pthread_rwlock_unlock(&l.rw);
    });
    // Until the writer has announced itself, a reader still gets in.
    while (pthread_rwlock_tryrdlock(&l.rw) == 0) {
      pthread_rwlock_unlock(&l.rw);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    t.add("tryrdlock", pthread_rwlock_tryrdlock(&l.rw));
    timespec at = in_ms(CLOCK_MONOTONIC, 20);
    t.add("clockrdlock", pthread_rwlock_clockrdlock(&l.rw, CLOCK_MONOTONIC, &at));
    t.add("writer-in", writer_in ? 1 : 0);
    held.release();
    writer.join();  // the writer got in and out; a reader then does too
    t.add("rdlock-after", pthread_rwlock_rdlock(&l.rw));
    t.add("unlock", pthread_rwlock_unlock(&l.rw));
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail == "tryrdlock=16 clockrdlock=110 writer-in=0 rdlock-after=0 unlock=0 ");
}
