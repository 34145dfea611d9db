// expect: this type cannot cross a process boundary
#include <weft/weft.hpp>
#include <memory>

std::unique_ptr<int> make(int v) { return std::make_unique<int>(v); }

int main() { return *weft::spawn_process(make, 3).get(); }
