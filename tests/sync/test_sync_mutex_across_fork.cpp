// fork() copies a locked weft::Mutex into the child, and the fiber or thread that called
// fork() goes on in the child as its plain thread: it still holds what it held, so its
// unlock works there (the first design gave the child a new identity: EPERM, and the
// mutex could never be released). The parent's copy is untouched.
#include "sync/sync_test.hpp"

#include <weft/sync.hpp>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// Forks; the child unlocks `m`, takes it again to prove it is free, and exits 0 on
// success. Returns the child's exit status as waitpid reports it.
int unlock_in_child(weft::Mutex& m) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    bool ok = false;
    try {
      m.unlock();
      ok = m.try_lock();
      if (ok) m.unlock();
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("a fiber holding the mutex forks: the child unlocks it") {
  weft::Mutex m;
  const int status = weft::run([&] {
    m.lock();
    const int s = unlock_in_child(m);
    CHECK_FALSE(m.try_lock());  // the parent's fiber still holds its copy
    m.unlock();
    return s;
  });
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a plain thread holding the mutex forks: the child unlocks it") {
  weft::Mutex m;
  (void)weft::spawn([] {}).get();  // the runtime is up, as in a program that forks later
  m.lock();
  const int status = unlock_in_child(m);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  m.unlock();
}
