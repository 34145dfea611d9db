// Among the cases of a select that are ready, each is chosen with equal chance (Go's
// select): over many rounds each ready case fires within ±10% of its share, and a case
// that is not ready never fires.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <thread>

namespace {

constexpr int rounds = 30'000;

// Each count within ±10% of rounds / shares (the binomial spread is under 1%).
void check_fair(const std::array<int, 4>& fired, int shares) {
  const int share = rounds / shares;
  for (int i = 0; i < shares; ++i) {
    CAPTURE(i);
    CAPTURE(fired[static_cast<std::size_t>(i)]);
    CHECK(fired[static_cast<std::size_t>(i)] > share * 9 / 10);
    CHECK(fired[static_cast<std::size_t>(i)] < share * 11 / 10);
  }
}

// Three receive cases always ready, one never: counts per case position.
std::array<int, 4> run_receive_rounds() {
  weft::Channel<int> a(rounds), b(rounds), c(rounds), never(1);
  for (int i = 0; i < rounds; ++i) {
    a.send(0);
    b.send(1);
    c.send(2);
  }
  std::array<int, 4> fired{};
  for (int i = 0; i < rounds; ++i) {
    int got = -1;
    auto take = [&](std::optional<int> v) { got = v.value_or(-2); };
    const std::size_t which = weft::select(weft::receive_case(a, take), weft::receive_case(never, take),
                                           weft::receive_case(b, take), weft::receive_case(c, take));
    constexpr std::size_t counter_of[] = {0, 3, 1, 2};  // argument position -> a, b, c, never
    ++fired[counter_of[which]];
    // The value is the one of the case reported: catches a handler run for another case.
    if (which == 0) REQUIRE(got == 0);
    if (which == 2) REQUIRE(got == 1);
    if (which == 3) REQUIRE(got == 2);
  }
  return fired;
}

}  // namespace

TEST_CASE("select picks uniformly among ready receive cases, in a fiber") {
  const auto fired = weft::run(run_receive_rounds);
  check_fair(fired, 3);  // catches always taking the first (or last) ready case
  CHECK(fired[3] == 0);  // `never` was never ready
}

TEST_CASE("select picks uniformly among ready receive cases, in a plain thread") {
  std::array<int, 4> fired{};
  std::thread([&] { fired = run_receive_rounds(); }).join();
  check_fair(fired, 3);
  CHECK(fired[3] == 0);
}

TEST_CASE("select picks uniformly between a ready send and ready receives") {
  weft::Channel<int> in1(rounds), in2(rounds), out(rounds);
  for (int i = 0; i < rounds; ++i) {
    in1.send(1);
    in2.send(2);
  }
  std::array<int, 4> fired{};
  weft::run([&] {
    for (int i = 0; i < rounds; ++i) {
      ++fired[weft::select(weft::receive_case(in1), weft::send_case(out, i), weft::receive_case(in2))];
    }
  });
  check_fair(fired, 3);
  CHECK(out.size() == static_cast<std::size_t>(fired[1]));  // each send case that fired sent once
  CHECK(in1.size() == static_cast<std::size_t>(rounds - fired[0]));
}
