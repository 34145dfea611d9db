// <weft/serialize.hpp> on its own: every supported type comes back equal, user types
// through their serialize member or free function, and bad input is a clear error.
#include <weft/serialize.hpp>

#include <doctest/doctest.h>

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace {

template <class T>
T round_trip(const T& v) {
  std::string bytes;
  weft::OutArchive out(bytes);
  out(v);
  weft::InArchive in(bytes);
  T back{};
  in(back);
  CHECK(in.remaining() == 0);
  return back;
}

enum class Colour : char { red = 'r', green = 'g' };
struct Point {
  int x = 0, y = 0;
  bool operator==(const Point&) const = default;
};
struct Account {
  std::string owner;
  std::vector<Point> path;
  std::optional<Colour> colour;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(owner, path, colour);
  }
  bool operator==(const Account&) const = default;
};

}  // namespace

namespace outside {
struct Legacy {  // a type that cannot change: a free serialize function found by ADL
  std::string label;
  int* cache = nullptr;  // not sent
  bool operator==(const Legacy& o) const { return label == o.label; }
};
template <class Archive>
void serialize(Archive& ar, Legacy& l) {
  ar(l.label);
}
}  // namespace outside

TEST_CASE("scalars, enums and trivially copyable structs") {
  CHECK(round_trip(42) == 42);
  CHECK(round_trip(-1.5) == -1.5);
  CHECK(round_trip(Colour::green) == Colour::green);
  CHECK(round_trip(Point{3, -4}) == Point{3, -4});
  CHECK(round_trip(std::array<Point, 2>{{{1, 2}, {3, 4}}}) == std::array<Point, 2>{{{1, 2}, {3, 4}}});
}

TEST_CASE("standard containers, nested") {
  const std::vector<std::string> words{"", "a", std::string(1000, 'x')};
  CHECK(round_trip(words) == words);
  const std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  CHECK(round_trip(m) == m);
  const std::unordered_map<int, std::string> um{{1, "one"}, {2, "two"}};
  CHECK(round_trip(um) == um);
  const std::set<double> s{1.5, 2.5};
  CHECK(round_trip(s) == s);
  const std::optional<std::string> some("x"), none;
  CHECK(round_trip(some) == some);
  CHECK(round_trip(none) == none);
  const auto t = std::make_tuple(1, std::string("two"), std::pair<int, std::vector<bool>>{3, {true, false, true}});
  CHECK(round_trip(t) == t);
}

TEST_CASE("user types: member and free serialize") {
  const Account a{"ada", {{1, 1}, {2, 3}}, Colour::red};
  CHECK(round_trip(a) == a);
  CHECK(round_trip(std::vector<Account>{a, Account{}}) == std::vector<Account>{a, Account{}});
  int cached = 7;
  const outside::Legacy l{"label", &cached};
  const auto back = round_trip(l);
  CHECK(back.label == "label");
  CHECK(back.cache == nullptr);  // the pointer never crossed
}

TEST_CASE("cut or corrupt input is serialization_error, never a huge allocation") {
  std::string bytes;
  weft::OutArchive out(bytes);
  out(std::vector<int>{1, 2, 3});
  std::vector<int> v;
  weft::InArchive cut(bytes.data(), bytes.size() - 1);
  CHECK_THROWS_AS(cut(v), weft::serialization_error);
  std::string huge_length(8, '\xff');  // a length of 2^64 - 1 elements
  weft::InArchive lying(huge_length);
  CHECK_THROWS_AS(lying(v), weft::serialization_error);
  std::string s;
  weft::InArchive lying_string(huge_length);
  CHECK_THROWS_AS(lying_string(s), weft::serialization_error);
}

static_assert(weft::serializable<std::vector<std::map<int, std::string>>>);
static_assert(!weft::serializable<int*>);
static_assert(!weft::serializable<std::vector<const char*>>);
