// expect: this type cannot cross a process boundary
#include <weft/weft.hpp>

int first(const int* p) { return *p; }

int main() {
  static int x = 1;
  return weft::spawn_process(first, &x).get();
}
