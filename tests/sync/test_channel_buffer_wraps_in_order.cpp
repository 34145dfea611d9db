// A buffered channel's ring wraps around many times and keeps send order, whether a value
// goes through the template's buffer-only path (room, nobody parked) or the engine's (a
// sender parked on a full buffer, whose value goes into the slot the receive freed).
// Capacities that are not powers of two, so a slot computed without wrapping, or wrapped
// by a mask, lands outside the ring or on a live value.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

namespace {

constexpr int values = 1000;

// A producer fiber and a consumer fiber on one worker: the producer fills the buffer and
// parks on it, the consumer drains it and parks in turn, so both paths run every round.
std::vector<int> pass_through(std::ptrdiff_t capacity) {
  return weft::run([capacity] {
    weft::Channel<int> ch(capacity);
    auto producer = weft::spawn([ch] {
      for (int i = 0; i < values; ++i) ch.send(i);
      ch.close();
    });
    std::vector<int> got;
    for (int v : ch) got.push_back(v);
    producer.get();
    return got;
  });
}

}  // namespace

TEST_CASE("values through a wrapping buffer arrive once each, in send order") {
  for (std::ptrdiff_t capacity : {1, 2, 3, 5, 7}) {
    CAPTURE(capacity);
    const std::vector<int> got = pass_through(capacity);
    REQUIRE(got.size() == values);  // a lost or duplicated slot changes the count
    for (int i = 0; i < values; ++i) {
      if (got[static_cast<std::size_t>(i)] != i) FAIL("value " << i << " arrived as " << got[static_cast<std::size_t>(i)]);
    }
  }
}

TEST_CASE("a full buffer refuses try_send and takes the value back after one receive") {
  weft::run([] {
    weft::Channel<int> ch(3);
    std::vector<int> first;
    for (int round = 0; round < 5; ++round) {  // each round moves the ring's head by one
      while (ch.try_send(round * 10 + static_cast<int>(ch.size()))) {
      }
      CHECK(ch.size() == 3);  // catches a send that writes past a full ring
      const weft::Received<int> r = ch.try_receive();
      REQUIRE(r);
      first.push_back(*r.value);
    }
    // Round 0 fills 0, 1, 2; each later round adds one value (round * 10 + 2) behind the
    // two left, and the receive takes the oldest.
    CHECK(first == std::vector<int>{0, 1, 2, 12, 22});
    std::vector<int> rest;
    while (auto r = ch.try_receive()) rest.push_back(*r.value);
    CHECK(rest == std::vector<int>{32, 42});
  });
}
