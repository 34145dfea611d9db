#include "start_hook.hpp"

#include "wire.hpp"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace weft::rt::process {

namespace {

using MainFn = int (*)(int, char**, char**);
using StartMainFn = int (*)(MainFn, int, char**, void (*)(), void (*)(), void (*)(), void*);

MainFn program_main = nullptr;
bool hooked = false;

// The channel fd if this process is a worker its parent really started (the variables can
// leak into a program some other way: then it runs as itself, with a warning).
int worker_channel() {
  const char* fd_text = std::getenv(kWorkerEnv);
  if (fd_text == nullptr) return -1;
  const char* parent_text = std::getenv(kParentEnv);
  const long parent = parent_text != nullptr ? std::strtol(parent_text, nullptr, 10) : -1;
  const int fd = std::atoi(fd_text);
  ::unsetenv(kWorkerEnv);  // its own spawn_process must start workers, not think it is one
  ::unsetenv(kParentEnv);
  struct stat st;
  if (fd != kChannelFd || parent != static_cast<long>(::getppid()) || ::fstat(fd, &st) != 0 ||
      !S_ISSOCK(st.st_mode)) {
    std::fprintf(stderr, "weft: ignoring %s=%s: this process was not started as a worker\n",
                 kWorkerEnv, fd_text);
    return -1;
  }
  return fd;
}

int main_or_worker(int argc, char** argv, char** envp) {
  const int channel = worker_channel();
  if (channel >= 0) return serve_parent(channel);
  return program_main(argc, argv, envp);
}

}  // namespace

bool started_through_hook() noexcept { return hooked; }

}  // namespace weft::rt::process

// Exported under glibc's name so that the program's start code (crt1.o) reaches it first;
// it hands glibc our main_or_worker in place of main.
extern "C" __attribute__((visibility("default"))) int __libc_start_main(
    weft::rt::process::MainFn main, int argc, char** argv, void (*init)(), void (*fini)(),
    void (*rtld_fini)(), void* stack_end) {
  using namespace weft::rt::process;
  auto real = reinterpret_cast<StartMainFn>(::dlsym(RTLD_NEXT, "__libc_start_main"));
  if (real == nullptr) {
    std::fprintf(stderr, "weft: libc has no __libc_start_main\n");
    std::abort();
  }
  program_main = main;
  hooked = true;
  return real(&main_or_worker, argc, argv, init, fini, rtld_fini, stack_end);
}
