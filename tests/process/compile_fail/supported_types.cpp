// expect: OK
// The control: everything the README promises compiles.
#include <weft/weft.hpp>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

struct Point {
  double x, y;
};
struct Named {
  std::string name;
  std::vector<Point> path;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, path);
  }
};
using Everything = std::tuple<int, Point, std::string, std::vector<Named>, std::map<std::string, int>,
                              std::optional<std::pair<int, std::string>>>;

Everything echo(Everything e) { return e; }

int main() { return std::get<0>(weft::spawn_process(echo, Everything{}).get()); }
