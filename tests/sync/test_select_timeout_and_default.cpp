// A select's timeout_case fires when no other case could run before its deadline, and
// only then; a default_case fires at once when nothing is ready, and only then. Neither
// leaves the select's other cases behind on their channels.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include "support/timing.hpp"
#include "sync/timed.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

using namespace std::chrono_literals;
using weft_test::ms;
using weft_test::took;

using weft_test::in_fiber_and_thread;
using weft_test::late_allowed;
using weft_test::wait_for;

TEST_CASE("a default case fires at once when no other case is ready") {
  weft::Channel<int> empty, full(1);
  full.send(1);
  in_fiber_and_thread([empty, full]() mutable {
    bool defaulted = false, other = false;
    const auto which = weft::select(weft::receive_case(empty, [&](auto) { other = true; }),
                                    weft::send_case(full, 2, [&] { other = true; }),
                                    weft::default_case([&] { defaulted = true; }));
    CHECK(which == 2);
    CHECK(defaulted);  // catches the handler of the default case not being run
    CHECK(!other);
  });
  CHECK(full.size() == 1);  // catches a send case that ran though it reported otherwise
}

TEST_CASE("a default case does not fire when another case is ready") {
  weft::Channel<int> ready(1);
  ready.send(5);
  bool defaulted = false;
  int got = 0;
  const auto which = weft::select(weft::default_case([&] { defaulted = true; }),
                                  weft::receive_case(ready, [&](std::optional<int> v) { got = *v; }));
  CHECK(which == 1);
  CHECK(!defaulted);
  CHECK(got == 5);
}

TEST_CASE("a timeout case fires after about its timeout when nothing comes") {
  weft::Channel<int> a, b(1);
  b.send(0);  // full: the send case below cannot run either
  in_fiber_and_thread([a, b]() mutable {
    bool timed_out = false;
    std::size_t which = 99;
    const auto t = took([&] {
      which = weft::select(weft::receive_case(a), weft::send_case(b, 1),
                           weft::timeout_case(wait_for, [&] { timed_out = true; }));
    });
    CHECK(which == 2);
    CHECK(timed_out);
    CHECK(ms(t) >= ms(wait_for) - 1);  // catches a select that did not wait
    CHECK(t < wait_for + late_allowed);
    // The timed-out select left nothing queued: an unbuffered try_send finds no receiver.
    CHECK(!a.try_send(3));
  });
}

TEST_CASE("a case that becomes ready before the deadline fires instead of the timeout") {
  weft::Channel<int> ch;
  std::thread sender([ch]() mutable {
    std::this_thread::sleep_for(20ms);
    ch.send(8);
  });
  int got = 0;
  bool timed_out = false;
  const auto which = weft::run([&] {
    return weft::select(weft::timeout_case(10s, [&] { timed_out = true; }),
                        weft::receive_case(ch, [&](std::optional<int> v) { got = v.value_or(-1); }));
  });
  sender.join();
  CHECK(which == 1);
  CHECK(!timed_out);
  CHECK(got == 8);
}

TEST_CASE("a select of a timeout alone sleeps; with no deadline it waits for its case") {
  const auto t = took([] { CHECK(weft::run([] { return weft::select(weft::timeout_case(wait_for)); }) == 0); });
  CHECK(ms(t) >= ms(wait_for) - 1);
  weft::Channel<int> ch;
  std::thread sender([ch]() mutable {
    std::this_thread::sleep_for(wait_for);
    ch.send(1);
  });
  CHECK(weft::select(weft::receive_case(ch), weft::timeout_case(weft::Deadline::none())) == 0);
  sender.join();
}
