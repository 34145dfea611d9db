// This process's resident set size, from /proc/self/statm.
#pragma once

#include <unistd.h>

#include <cstdio>

namespace weft_test {

// In bytes; -1 if /proc cannot be read.
inline long long own_rss_bytes() {
  long long pages_total = 0, pages_resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  const int got = std::fscanf(f, "%lld %lld", &pages_total, &pages_resident);
  std::fclose(f);
  return got == 2 ? pages_resident * ::sysconf(_SC_PAGESIZE) : -1;
}

}  // namespace weft_test
