// 100 MB arguments and results cross without deadlock, in both directions at once on two
// workers, with small tasks finishing around them.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBig = 100u << 20;

// The bytes reversed and each one bumped: every byte of the result depends on the input.
std::string reverse_bump(std::string s) {
  std::string out(s.rbegin(), s.rend());
  for (char& c : out) c = static_cast<char>(c + 1);
  return out;
}

std::vector<std::uint32_t> count_up(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 7u);
  return v;
}

std::uint64_t sum(std::vector<std::uint32_t> v) { return std::accumulate(v.begin(), v.end(), std::uint64_t{0}); }

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + (i >> 17));
  return s;
}

}  // namespace

TEST_CASE("100 MB in, 100 MB out, twice at once, from fibers, with small tasks alongside") {
  const std::string input = pattern(kBig);
  weft::run([&] {
    auto a = weft::spawn_process(reverse_bump, input);
    auto b = weft::spawn_process(reverse_bump, input);
    auto small = weft::spawn_process([](int x) { return x * 2; }, 21);
    CHECK(small.get() == 42);
    for (auto* u : {&a, &b}) {
      const std::string& out = u->get();
      REQUIRE(out.size() == kBig);
      bool same = true;
      for (std::size_t i = 0; i < kBig && same; i += 4099) {
        same = out[i] == static_cast<char>(input[kBig - 1 - i] + 1);
      }
      CHECK(same);
      CHECK(out.back() == static_cast<char>(input.front() + 1));
    }
  });
}

TEST_CASE("a 100 MB result from a small argument, and a 100 MB argument to a small result, on a plain thread") {
  const std::uint32_t n = kBig / sizeof(std::uint32_t);
  const auto v = weft::spawn_process(count_up, n).get();
  REQUIRE(v.size() == n);
  CHECK(v.front() == 7u);
  CHECK(v.back() == 7u + n - 1);
  const std::uint64_t expected = std::uint64_t{n} * 7 + std::uint64_t{n} * (n - 1) / 2;
  CHECK(weft::spawn_process(sum, v).get() == expected);
}
