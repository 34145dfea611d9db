// for (T v : ch) receives until the channel is closed and drained, in send order, and
// works with a move-only T.
#include <weft/channel.hpp>
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("range-for over a channel yields every value in order and ends at the close") {
  weft::Channel<std::unique_ptr<std::string>> ch(3);
  std::thread producer([ch]() mutable {
    for (int i = 0; i < 100; ++i) ch.send(std::make_unique<std::string>(std::to_string(i)));
    ch.close();
  });
  std::vector<std::string> got = weft::run([ch]() mutable {
    std::vector<std::string> seen;
    for (std::unique_ptr<std::string> v : ch) seen.push_back(*v);
    return seen;
  });
  producer.join();
  REQUIRE(got.size() == 100);  // catches an early end (or a loop past the close: a hang)
  for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)] == std::to_string(i));
}

TEST_CASE("range-for over a closed, empty channel runs no iteration") {
  weft::Channel<int> ch;
  ch.close();
  int iterations = 0;
  for (int v : ch) {
    (void)v;
    ++iterations;  // catches an iterator that does not start at end() on a drained channel
  }
  CHECK(iterations == 0);
}

TEST_CASE("several fibers ranging over one channel share its values") {
  weft::Channel<int> ch(8);
  std::vector<weft::Unfuture<long>> consumers;
  for (int i = 0; i < 4; ++i) {
    consumers.push_back(weft::spawn([ch]() mutable {
      long sum = 0;
      for (int v : ch) sum += v;
      return sum;
    }));
  }
  for (int i = 1; i <= 10000; ++i) ch.send(i);
  ch.close();
  long total = 0;
  for (auto& c : consumers) total += c.get();
  CHECK(total == 10000L * 10001 / 2);
}
