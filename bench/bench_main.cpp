// main() of weft's benchmark binaries. weft must be configured before its first use, so
// BENCHMARK_MAIN will not do: this one takes --weft_threads=N (default 1: the bars are
// about one worker against one Boost.Fiber thread) and configures weft first.
#include <weft/config.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  unsigned threads = 1;
  std::vector<char*> rest;
  const char* flag = "--weft_threads=";
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) {
      threads = static_cast<unsigned>(std::strtoul(argv[i] + std::strlen(flag), nullptr, 10));
    } else {
      rest.push_back(argv[i]);
    }
  }
  weft::configure({.threads = threads});
  benchmark::AddCustomContext("weft_threads", std::to_string(threads));

  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
