// expect: this type cannot cross a process boundary
#include <weft/weft.hpp>
#include <string>

struct Customer {  // not trivially copyable, and no serialize member
  std::string name;
};

int score(Customer c) { return static_cast<int>(c.name.size()); }

int main() { return weft::spawn_process(score, Customer{"ada"}).get(); }
