// spawn_process runs the function in another process (a worker re-executed from this
// program) and brings back its result: from a plain thread and from a fiber, with a
// function pointer, a lambda without captures, and a function object that serializes.
#include <weft/weft.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <map>
#include <numeric>
#include <string>
#include <vector>

namespace {

int square(int x) { return x * x; }
pid_t my_pid() { return ::getpid(); }
pid_t parent_pid() { return ::getppid(); }

std::string shout(std::string s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s + "!";
  return out;
}

struct Scale {
  double by = 1;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(by);
  }
  std::vector<double> operator()(std::vector<double> v) const {
    for (double& x : v) x *= by;
    return v;
  }
};

}  // namespace

TEST_CASE("a function pointer runs in another process, child of this one") {
  CHECK(weft::spawn_process(square, 12).get() == 144);
  const pid_t worker = weft::spawn_process(my_pid).get();
  CHECK(worker != ::getpid());
  CHECK(weft::spawn_process(parent_pid).get() == ::getpid());
}

TEST_CASE("a lambda without captures, from a fiber") {
  const auto total = weft::run([] {
    return weft::spawn_process([](std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0L); },
                               std::vector<int>{1, 2, 3, 4})
        .get();
  });
  CHECK(total == 10);
}

TEST_CASE("strings, maps and a function object with state") {
  CHECK(weft::spawn_process(shout, std::string("hey"), 3).get() == "hey!hey!hey!");
  const auto counts = weft::spawn_process(
                          [](std::string text) {
                            std::map<char, int> m;
                            for (char c : text) ++m[c];
                            return m;
                          },
                          std::string("banana"))
                          .get();
  CHECK(counts == std::map<char, int>{{'a', 3}, {'b', 1}, {'n', 2}});
  CHECK(weft::spawn_process(Scale{2.5}, std::vector<double>{1, 2}).get() == std::vector<double>{2.5, 5});
}

TEST_CASE("a void function") {
  weft::spawn_process([] {}).get();
  weft::spawn_process([](int) {}, 3).get();
}
