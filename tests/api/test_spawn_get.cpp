#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <string>

TEST_CASE("spawn from a plain thread returns the fiber's value") {
  auto u = weft::spawn([](int a, int b) { return a + b; }, 2, 3);
  CHECK(u.get() == 5);
  CHECK(u.ready());
}

TEST_CASE("get rethrows the fiber's exception") {
  auto u = weft::spawn([]() -> int { throw std::runtime_error("boom"); });
  CHECK_THROWS_WITH_AS(u.get(), "boom", std::runtime_error);
}

TEST_CASE("spawn inside a fiber and join there") {
  int v = weft::run([] {
    CHECK(weft::in_fiber());
    auto inner = weft::spawn([] { return std::string("in"); });
    return static_cast<int>(inner.get().size());
  });
  CHECK(v == 2);
  CHECK_FALSE(weft::in_fiber());
}
