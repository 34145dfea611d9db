// pthread mutexes and condition variables: the results and error codes libc gives on a
// plain thread, in a fiber too, for each mutex type and the misuses libc reports; timed
// waits as long as libc's. (Concurrency between fibers and threads has its own tests in
// tests/locks/.)
#include "conformance.hpp"
#include "timings.hpp"
#include "support/typed_mutex.hpp"
#include "support/abs_time.hpp"

#include <pthread.h>
#include <time.h>

#include <cerrno>
#include <string>
#include <thread>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(pthread_mutex_lock)
WEFT_CONFORMS(pthread_mutex_trylock)
WEFT_CONFORMS(pthread_mutex_timedlock)
WEFT_CONFORMS(pthread_mutex_clocklock)
WEFT_CONFORMS(pthread_mutex_unlock)
WEFT_CONFORMS(pthread_cond_wait)
WEFT_CONFORMS(pthread_cond_timedwait)
WEFT_CONFORMS(pthread_cond_clockwait)
WEFT_CONFORMS(pthread_cond_signal)
WEFT_CONFORMS(pthread_cond_broadcast)

namespace {

// A mutex of one type, made and destroyed around each act.
using Mutex = weft_test::TypedMutex;

const char* type_name(int type) {
  switch (type) {
    case PTHREAD_MUTEX_NORMAL: return "normal";
    case PTHREAD_MUTEX_RECURSIVE: return "recursive";
    case PTHREAD_MUTEX_ERRORCHECK: return "errorcheck";
    default: return "adaptive";
  }
}

constexpr int kTypes[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK,
                          PTHREAD_MUTEX_ADAPTIVE_NP};

using weft_test::in_ms;

// The results of a sequence of calls, as text.
struct Trace {
  std::string text;
  void add(const char* what, int r) { text += std::string(what) + "=" + std::to_string(r) + " "; }
};

// Holds m on another plain thread for the length of a scope.
class HeldElsewhere {
 public:
  explicit HeldElsewhere(pthread_mutex_t& m) : m_(m), t_([this] {
      pthread_mutex_lock(&m_);
      locked_.test_and_set();
      locked_.notify_all();
      while (!release_.test()) release_.wait(false);
      pthread_mutex_unlock(&m_);
    }) {
    locked_.wait(false);
  }
  ~HeldElsewhere() {
    release_.test_and_set();
    release_.notify_all();
    t_.join();
  }

 private:
  pthread_mutex_t& m_;
  std::atomic_flag locked_, release_;
  std::thread t_;
};

}  // namespace

TEST_CASE("pthread_mutex_lock, trylock and unlock: each type's results, its own relock and unlock included") {
  for (const int type : kTypes) {
    INFO(type_name(type));
    const Outcome ref = check_conforms([type] {
      Mutex mx(type);
      Trace t;
      t.add("lock", pthread_mutex_lock(&mx.m));
      t.add("trylock-held", pthread_mutex_trylock(&mx.m));  // recursive: 0, others EBUSY
      if (type == PTHREAD_MUTEX_RECURSIVE) t.add("unlock-inner", pthread_mutex_unlock(&mx.m));
      if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
        t.add("lock-again", pthread_mutex_lock(&mx.m));  // recursive: 0, errorcheck: EDEADLK
        if (type == PTHREAD_MUTEX_RECURSIVE) t.add("unlock-again", pthread_mutex_unlock(&mx.m));
      }
      t.add("unlock", pthread_mutex_unlock(&mx.m));
      if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
        t.add("unlock-free", pthread_mutex_unlock(&mx.m));  // EPERM
      }
      t.add("trylock-free", pthread_mutex_trylock(&mx.m));
      t.add("unlock", pthread_mutex_unlock(&mx.m));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("lock=0") != std::string::npos);
  }
}

TEST_CASE("unlock of a mutex another thread holds: EPERM for the types that check, and it stays held") {
  for (const int type : {PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK}) {
    INFO(type_name(type));
    const Outcome ref = check_conforms([type] {
      Mutex mx(type);
      HeldElsewhere held(mx.m);
      Trace t;
      t.add("unlock", pthread_mutex_unlock(&mx.m));
      t.add("trylock", pthread_mutex_trylock(&mx.m));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail == "unlock=1 trylock=16 ");
  }
}

TEST_CASE("pthread_mutex_timedlock and clocklock on a held mutex: ETIMEDOUT as late as libc, EINVAL for bad times") {
  for (const int type : kTypes) {
    INFO(type_name(type));
    weft_test::Timings timings;
    const Outcome ref = check_conforms([&] {
      Mutex mx(type);
      HeldElsewhere held(mx.m);
      Trace t;
      const auto t0 = weft_test::Clock::now();
      timespec at = in_ms(CLOCK_REALTIME, 60);
      t.add("timedlock", pthread_mutex_timedlock(&mx.m, &at));
      timings.ms.push_back(weft_test::ms_since(t0));
      at = in_ms(CLOCK_MONOTONIC, 0);
      t.add("clocklock-mono-now", pthread_mutex_clocklock(&mx.m, CLOCK_MONOTONIC, &at));
      timespec bad{0, 1'000'000'000};
      t.add("timedlock-bad-nsec", pthread_mutex_timedlock(&mx.m, &bad));
      timespec past{-1, 0};
      t.add("timedlock-negative", pthread_mutex_timedlock(&mx.m, &past));
      at = in_ms(CLOCK_MONOTONIC, 10);
      t.add("clocklock-bad-clock", pthread_mutex_clocklock(&mx.m, CLOCK_PROCESS_CPUTIME_ID, &at));
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("timedlock=110") != std::string::npos);  // ETIMEDOUT
    timings.check(60);
  }
}

TEST_CASE("timed locks of a free mutex succeed at once, whatever the time says") {
  const Outcome ref = check_conforms([] {
    Mutex mx(PTHREAD_MUTEX_NORMAL);
    Trace t;
    timespec past{0, 0};
    t.add("timedlock-past", pthread_mutex_timedlock(&mx.m, &past));
    t.add("unlock", pthread_mutex_unlock(&mx.m));
    timespec bad{0, -1};
    t.add("timedlock-bad-nsec", pthread_mutex_timedlock(&mx.m, &bad));
    t.add("unlock", pthread_mutex_unlock(&mx.m));
    t.add("clocklock-bad-clock", pthread_mutex_clocklock(&mx.m, CLOCK_THREAD_CPUTIME_ID, &past));
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail.find("timedlock-past=0") != std::string::npos);
}

TEST_CASE("pthread_cond_timedwait and clockwait: ETIMEDOUT as late as libc, with the mutex held again; EINVAL for bad times") {
  for (const bool monotonic : {false, true}) {
    INFO("condattr clock monotonic: " << monotonic);
    weft_test::Timings timings;
    const Outcome ref = check_conforms([&] {
      pthread_condattr_t a;
      pthread_condattr_init(&a);
      if (monotonic) pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
      pthread_cond_t c;
      pthread_cond_init(&c, &a);
      Mutex mx(PTHREAD_MUTEX_ERRORCHECK);
      Trace t;
      pthread_mutex_lock(&mx.m);
      const auto t0 = weft_test::Clock::now();
      timespec at = in_ms(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, 60);
      t.add("timedwait", pthread_cond_timedwait(&c, &mx.m, &at));
      timings.ms.push_back(weft_test::ms_since(t0));
      t.add("relocked", pthread_mutex_lock(&mx.m));  // EDEADLK: held again
      at = in_ms(CLOCK_MONOTONIC, 1);
      t.add("clockwait-mono", pthread_cond_clockwait(&c, &mx.m, CLOCK_MONOTONIC, &at));
      timespec bad{0, 1'000'000'000};
      t.add("timedwait-bad-nsec", pthread_cond_timedwait(&c, &mx.m, &bad));
      t.add("clockwait-bad-clock", pthread_cond_clockwait(&c, &mx.m, CLOCK_PROCESS_CPUTIME_ID, &at));
      timespec past{-5, 0};
      t.add("timedwait-negative", pthread_cond_timedwait(&c, &mx.m, &past));
      t.add("unlock", pthread_mutex_unlock(&mx.m));
      t.add("wait-not-held", pthread_cond_timedwait(&c, &mx.m, &at));  // errorcheck: EPERM
      pthread_cond_destroy(&c);
      pthread_condattr_destroy(&a);
      return Outcome{0, 0, t.text};
    });
    CHECK(ref.detail.find("timedwait=110 relocked=35") != std::string::npos);
    timings.check(60);
  }
}

TEST_CASE("pthread_cond_signal and broadcast with nobody waiting return 0; a signal wakes a wait") {
  const Outcome ref = check_conforms([] {
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    Trace t;
    t.add("signal", pthread_cond_signal(&c));
    t.add("broadcast", pthread_cond_broadcast(&c));
    bool ready = false;
    pthread_mutex_lock(&m);
    std::thread signaller([&] {
      pthread_mutex_lock(&m);
      ready = true;
      pthread_cond_signal(&c);
      pthread_mutex_unlock(&m);
    });
    int r = 0;
    while (!ready && r == 0) r = pthread_cond_wait(&c, &m);
    t.add("wait", r);
    t.add("ready", ready ? 1 : 0);
    pthread_mutex_unlock(&m);
    signaller.join();
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail == "signal=0 broadcast=0 wait=0 ready=1 ");
}
