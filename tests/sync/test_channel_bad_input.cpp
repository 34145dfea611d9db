// Misuse is a clear error, not undefined behaviour: sending on a closed channel, closing
// twice, a negative or impossible capacity.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

TEST_CASE("sending on a closed channel throws channel_closed, from every send form") {
  weft::Channel<int> ch(4);
  ch.close();
  CHECK_THROWS_AS(ch.send(1), weft::channel_closed);
  CHECK_THROWS_AS(ch.try_send(1), weft::channel_closed);  // even with room in the buffer
  CHECK_THROWS_AS(ch.send_for(1, std::chrono::milliseconds(10)), weft::channel_closed);
  CHECK_THROWS_AS(weft::run([&] { ch.send(1); }), weft::channel_closed);  // from a fiber too
  CHECK(ch.size() == 0);  // catches a send that stored its value and then threw
  // A logic_error, as errors.hpp says misuse is.
  CHECK_THROWS_AS(ch.send(1), std::logic_error);
}

TEST_CASE("closing a channel twice throws channel_closed, and the channel stays closed") {
  weft::Channel<int> ch;
  ch.close();
  try {
    ch.close();
    FAIL("a second close() returned");
  } catch (const weft::channel_closed& e) {
    CHECK(std::string(e.what()).find("close of a closed channel") != std::string::npos);
  }
  CHECK(ch.closed());
  CHECK(ch.receive() == std::nullopt);
}

TEST_CASE("a negative capacity is std::invalid_argument, an impossible one std::length_error") {
  CHECK_THROWS_AS(weft::Channel<int>(-1), std::invalid_argument);
  CHECK_THROWS_AS(weft::Channel<int>(std::numeric_limits<std::ptrdiff_t>::min()), std::invalid_argument);
  CHECK_THROWS_AS(weft::Channel<int>(std::numeric_limits<std::ptrdiff_t>::max()), std::length_error);
  CHECK_THROWS_AS(weft::Channel<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max() / 4), std::length_error);
  // The limit depends on the element's size: a byte channel half that large is not refused
  // for its size (only, perhaps, by the allocator).
  CHECK_NOTHROW(weft::Channel<char>(0));
  CHECK(weft::Channel<char>(3).capacity() == 3);
}

TEST_CASE("copies of a channel are the same channel") {
  weft::Channel<std::unique_ptr<int>> a(1);
  weft::Channel<std::unique_ptr<int>> b = a;
  weft::Channel<std::unique_ptr<int>> c = std::move(b);  // a move copies: b still works
  CHECK(a == c);
  CHECK(b == a);
  CHECK(!(a == weft::Channel<std::unique_ptr<int>>(1)));
  b.send(std::make_unique<int>(3));
  auto v = c.receive();
  REQUIRE(v);
  REQUIRE(*v);
  CHECK(**v == 3);
}
