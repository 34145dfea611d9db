// Hook conformance (SPEC §3): the same blocking code must give the same results and errno
// on a plain thread (libc's behaviour, the reference) and in a fiber (the shim's).
//
// A case is a setup, which makes the fds, and an act, which uses them and reports an
// Outcome. each_placement() runs it four ways: fds made on a thread or in a fiber (weft
// makes a fiber's sockets non-blocking underneath), used on a thread or in a fiber (a
// fiber parks; a thread on a socket a fiber made must still block). The first, thread and
// thread, never touches weft's emulation and is libc's answer; CHECK_CONFORMS compares the
// other three with it.
//
// Every shim in shims/manifest/manifest.def needs WEFT_CONFORMS(name) in some case file: the
// registry (registry.cpp) refers to each, so a shim without a conformance case does
// not link.
#pragma once

#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>

#define WEFT_CONFORMS(name) extern "C" { extern const int weft_conformance_##name; const int weft_conformance_##name = 1; }

namespace weft_test {

// What a case observed: a return value, errno when it failed, and any detail (bytes read,
// flags, revents) as text.
struct Outcome {
  long result = 0;
  int err = 0;
  std::string detail;

  bool operator==(const Outcome&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{result " << o.result;
  if (o.err != 0) os << ", errno " << std::strerror(o.err);
  if (!o.detail.empty()) os << ", " << o.detail;
  return os << "}";
}

// r with errno if r < 0, for a libc-style call just made.
inline Outcome outcome(long r, std::string detail = {}) {
  return Outcome{r, r < 0 ? errno : 0, std::move(detail)};
}

enum class Where { thread, fiber };

inline const char* name(Where w) { return w == Where::thread ? "thread" : "fiber"; }

// f() on a new plain thread, or as a fiber; its result either way.
template <class F>
auto run_on(Where where, F f) -> decltype(f()) {
  if (where == Where::fiber) return weft::run(f);
  using R = decltype(f());
  if constexpr (std::is_void_v<R>) {
    std::thread t(f);
    t.join();
  } else {
    R result{};
    std::thread t([&] { result = f(); });
    t.join();
    return result;
  }
}

struct Placement {
  Where made;
  Where used;
};

inline std::ostream& operator<<(std::ostream& os, const Placement& p) {
  return os << "made on " << name(p.made) << ", used on " << name(p.used);
}

constexpr Placement kPlacements[] = {
    {Where::thread, Where::thread},  // libc's behaviour: the reference
    {Where::fiber, Where::fiber},
    {Where::thread, Where::fiber},
    {Where::fiber, Where::thread},
};

// Runs setup() where the placement says to make the fds, then act(fds) where it says to
// use them, for each placement; returns the reference outcome (thread, thread).
// setup returns whatever act takes (an RAII holder of fds, typically).
template <class Setup, class Act>
Outcome check_conforms(Setup setup, Act act) {
  Outcome reference;
  for (const Placement& p : kPlacements) {
    auto fds = run_on(p.made, setup);
    const Outcome got = run_on(p.used, [&] { return act(fds); });
    if (p.made == Where::thread && p.used == Where::thread) {
      reference = got;
    } else {
      INFO(p);
      CHECK(got == reference);
    }
  }
  return reference;
}

// A case whose fds are made and used in one place (act makes its own).
template <class Act>
Outcome check_conforms(Act act) {
  Outcome reference = run_on(Where::thread, act);
  const Outcome in_fiber = run_on(Where::fiber, act);
  INFO("in a fiber");
  CHECK(in_fiber == reference);
  return reference;
}

}  // namespace weft_test

namespace doctest {
template <>
struct StringMaker<weft_test::Outcome> {
  static String convert(const weft_test::Outcome& o) {
    std::ostringstream os;
    os << o;
    return String(os.str().c_str());
  }
};
}  // namespace doctest
