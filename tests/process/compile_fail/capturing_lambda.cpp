// expect: lambda without captures
#include <weft/weft.hpp>

int main() {
  int base = 3;
  return weft::spawn_process([base](int x) { return base + x; }, 4).get();
}
