// Semaphores, unnamed (process-private and process-shared) and named: the results and
// errno libc gives on a plain thread, in a fiber too: tries of an empty semaphore
// (EAGAIN), timed waits timing out as late as libc's (ETIMEDOUT), bad times and clocks
// (EINVAL, even with a token there), sem_post's EOVERFLOW, and a wait that a post from
// another thread ends. (Fibers and threads at once: tests/locks/test_lock_sem_*.)
#include "conformance.hpp"
#include "timings.hpp"
#include "support/abs_time.hpp"

#include <fcntl.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <string>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(sem_wait)
WEFT_CONFORMS(sem_trywait)
WEFT_CONFORMS(sem_timedwait)
WEFT_CONFORMS(sem_clockwait)
WEFT_CONFORMS(sem_post)

namespace {

enum class Kind { private_unnamed, shared_unnamed, named };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::private_unnamed: return "unnamed, process-private";
    case Kind::shared_unnamed: return "unnamed, process-shared";
    default: return "named";
  }
}

constexpr Kind kKinds[] = {Kind::private_unnamed, Kind::shared_unnamed, Kind::named};

// A semaphore of one kind with an initial value, made and destroyed around each act.
class Sem {
 public:
  Sem(Kind kind, unsigned value) : kind_(kind) {
    if (kind == Kind::named) {
      name_ = "/weft-conformance-" + std::to_string(::getpid());
      sem_ = sem_open(name_.c_str(), O_CREAT | O_EXCL, 0600, value);
      REQUIRE(sem_ != SEM_FAILED);
      sem_unlink(name_.c_str());
    } else {
      REQUIRE(sem_init(&unnamed_, kind == Kind::shared_unnamed ? 1 : 0, value) == 0);
      sem_ = &unnamed_;
    }
  }
  ~Sem() {
    if (kind_ == Kind::named) {
      sem_close(sem_);
    } else {
      sem_destroy(&unnamed_);
    }
  }
  sem_t* get() { return sem_; }

 private:
  Kind kind_;
  std::string name_;
  sem_t unnamed_;
  sem_t* sem_ = nullptr;
};

using weft_test::in_ms;

// Results of a sequence of calls as text: each call's return, and errno when it failed.
struct Trace {
  std::string text;
  void add(const char* what, int r) {
    text += std::string(what) + "=" + std::to_string(r);
    if (r < 0) text += "/" + std::to_string(errno);
    text += " ";
  }
};

int value_of(sem_t* s) {
  int v = -1;
  sem_getvalue(s, &v);
  return v;
}

// act(sem, trace) on a fresh semaphore of `kind` holding `value`, on a plain thread (libc's
// answer, returned) and in a fiber, whose traces must be the same.
template <class Act>
std::string conforming_trace(Kind kind, unsigned value, Act act) {
  return check_conforms([&] {
    Sem s(kind, value);
    Trace t;
    act(s.get(), t);
    return Outcome{0, 0, t.text};
  }).detail;
}

// The same for each kind of semaphore; libc's trace must read `expected` for every kind.
template <class Act>
void check_each_kind(unsigned value, Act act, const std::string& expected) {
  for (const Kind kind : kKinds) {
    INFO(kind_name(kind));
    CHECK(conforming_trace(kind, value, act) == expected);
  }
}

}  // namespace

TEST_CASE("sem_wait, trywait and post without waiting: tokens taken and given back, EAGAIN when empty") {
  check_each_kind(
      2,
      [](sem_t* s, Trace& t) {
        t.add("wait", sem_wait(s));
        t.add("trywait", sem_trywait(s));
        t.add("trywait-empty", sem_trywait(s));
        t.add("post", sem_post(s));
        t.add("value", value_of(s));
        timespec past{0, 0};
        t.add("timedwait-past-token-there", sem_timedwait(s, &past));
        t.add("timedwait-past-empty", sem_timedwait(s, &past));
        t.add("clockwait-past-empty", sem_clockwait(s, CLOCK_MONOTONIC, &past));
      },
      "wait=0 trywait=0 trywait-empty=-1/11 post=0 value=1 timedwait-past-token-there=0 "
      "timedwait-past-empty=-1/110 clockwait-past-empty=-1/110 ");
}

TEST_CASE("sem_timedwait and sem_clockwait on an empty semaphore: ETIMEDOUT as late as libc's") {
  for (const Kind kind : kKinds) {
    INFO(kind_name(kind));
    weft_test::Timings real_timings, mono_timings;
    const std::string trace = conforming_trace(kind, 0, [&](sem_t* s, Trace& t) {
      auto t0 = weft_test::Clock::now();
      timespec at = in_ms(CLOCK_REALTIME, 60);
      t.add("timedwait", sem_timedwait(s, &at));
      real_timings.ms.push_back(weft_test::ms_since(t0));
      t0 = weft_test::Clock::now();
      at = in_ms(CLOCK_MONOTONIC, 60);
      t.add("clockwait-mono", sem_clockwait(s, CLOCK_MONOTONIC, &at));
      mono_timings.ms.push_back(weft_test::ms_since(t0));
      at = in_ms(CLOCK_MONOTONIC, 1);
      t.add("timedwait-mono-time-as-real", sem_timedwait(s, &at));  // long past
      timespec negative{-1, 0};
      t.add("timedwait-negative", sem_timedwait(s, &negative));
    });
    CHECK(trace == "timedwait=-1/110 clockwait-mono=-1/110 timedwait-mono-time-as-real=-1/110 "
                   "timedwait-negative=-1/110 ");
    real_timings.check(60);
    mono_timings.check(60);
  }
}

TEST_CASE("timed semaphore waits with a bad time or clock: EINVAL, even with a token there to take") {
  for (const unsigned value : {0u, 1u}) {
    INFO("value " << value);
    const std::string trace = conforming_trace(Kind::private_unnamed, value, [](sem_t* s, Trace& t) {
      timespec bad{0, 1'000'000'000};
      t.add("timedwait-bad-nsec", sem_timedwait(s, &bad));
      timespec negative_nsec{5, -1};
      t.add("clockwait-bad-nsec", sem_clockwait(s, CLOCK_REALTIME, &negative_nsec));
      timespec at = in_ms(CLOCK_MONOTONIC, 10);
      t.add("clockwait-bad-clock", sem_clockwait(s, CLOCK_PROCESS_CPUTIME_ID, &at));
      t.add("value", value_of(s));
    });
    CHECK(trace.find("timedwait-bad-nsec=-1/22 clockwait-bad-nsec=-1/22 clockwait-bad-clock=-1/22") !=
          std::string::npos);
  }
}

TEST_CASE("sem_post at SEM_VALUE_MAX: EOVERFLOW, the value kept") {
  const Outcome ref = check_conforms([] {
    sem_t s;
    sem_init(&s, 0, SEM_VALUE_MAX);
    Trace t;
    t.add("post", sem_post(&s));
    t.add("value-is-max", value_of(&s) == SEM_VALUE_MAX ? 1 : 0);
    sem_destroy(&s);
    return Outcome{0, 0, t.text};
  });
  CHECK(ref.detail == "post=-1/75 value-is-max=1 ");
}

TEST_CASE("sem_wait and sem_timedwait end when another thread posts") {
  check_each_kind(
      0,
      [](sem_t* s, Trace& t) {
        {
          weft_test::Later poster(std::chrono::milliseconds(30), [&] { sem_post(s); });
          t.add("wait", sem_wait(s));
        }
        {
          weft_test::Later poster(std::chrono::milliseconds(30), [&] { sem_post(s); });
          timespec at = in_ms(CLOCK_REALTIME, 10'000);
          t.add("timedwait", sem_timedwait(s, &at));
        }
        t.add("value", value_of(s));
      },
      "wait=0 timedwait=0 value=0 ");
}
