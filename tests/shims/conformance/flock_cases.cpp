// flock, lockf and fcntl's F_SETLKW / F_OFD_SETLKW: a lock held elsewhere makes the
// non-blocking forms fail at once (EWOULDBLOCK, EAGAIN/EACCES) and the blocking forms
// wait until it is released 100 ms later, as libc's, on a plain thread and in a fiber
// (where the wait runs on the blocking pool). flock and OFD locks belong to an open file,
// so a second open() of the file in this process conflicts; lockf's POSIX locks belong to
// a process, so a child holds that one.
#include "conformance.hpp"
#include "timings.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

using weft_test::check_conforms;
using weft_test::Outcome;
using weft_test::Clock;
using weft_test::Timings;
using weft_test::ms_since;

WEFT_CONFORMS(flock)
WEFT_CONFORMS(lockf)

namespace {

// A scratch file, removed at the end.
struct LockFile {
  std::string path;
  LockFile() {
    char name[] = "/tmp/weft-lock-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    path = name;
  }
  ~LockFile() { ::unlink(path.c_str()); }
  int open() const { return ::open(path.c_str(), O_RDWR | O_CLOEXEC); }
};

std::string r_text(int r) { return r == 0 ? "0" : "-1/" + std::string(std::strerror(errno)); }

}  // namespace

TEST_CASE("flock and F_OFD_SETLKW: busy at once without waiting, then taken once the holder lets go") {
  Timings t;
  const Outcome ref = check_conforms([&] {
    LockFile file;
    const int holder = file.open();
    const int mine = file.open();
    std::string d;
    ::flock(holder, LOCK_EX);
    d += "nb " + r_text(::flock(mine, LOCK_EX | LOCK_NB));
    std::thread release([holder] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ::flock(holder, LOCK_UN);
    });
    auto t0 = Clock::now();
    d += ", waits " + r_text(::flock(mine, LOCK_EX));
    t.ms.push_back(ms_since(t0));
    release.join();
    d += ", unlock " + r_text(::flock(mine, LOCK_UN));
    d += ", bad fd " + r_text(::flock(-1, LOCK_EX));

    // The same with open-file-description locks through fcntl.
    struct flock region{};
    region.l_type = F_WRLCK;
    region.l_whence = SEEK_SET;
    ::fcntl(holder, F_OFD_SETLK, &region);
    d += "; ofd busy " + r_text(::fcntl(mine, F_OFD_SETLK, &region));
    release = std::thread([holder] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      struct flock unlock{};
      unlock.l_type = F_UNLCK;
      unlock.l_whence = SEEK_SET;
      ::fcntl(holder, F_OFD_SETLK, &unlock);
    });
    t0 = Clock::now();
    d += ", ofd waits " + r_text(::fcntl(mine, F_OFD_SETLKW, &region));
    t.ms.push_back(ms_since(t0));
    release.join();
    ::close(holder);
    ::close(mine);
    return Outcome{0, 0, d};
  });
  const std::string busy = "-1/" + std::string(std::strerror(EWOULDBLOCK));
  CHECK(ref.detail == "nb " + busy + ", waits 0, unlock 0, bad fd -1/" + std::strerror(EBADF) + "; ofd busy " +
                          "-1/" + std::strerror(EAGAIN) + ", ofd waits 0");
  t.check(100);
}

TEST_CASE("lockf and F_SETLKW: a child's lock makes F_TLOCK fail; F_LOCK waits for its exit") {
  Timings t;
  const Outcome ref = check_conforms([&] {
    LockFile file;
    const int fd = file.open();
    int ready[2];
    if (::pipe(ready) != 0) return Outcome{-1, errno, "pipe"};
    const pid_t child = ::fork();
    if (child == 0) {
      // Locks the whole file, says so, holds it 100 ms, exits (raw calls: no weft here).
      struct flock region{};
      region.l_type = F_WRLCK;
      region.l_whence = SEEK_SET;
      ::syscall(SYS_fcntl, fd, F_SETLK, &region);
      ::syscall(SYS_write, ready[1], "L", 1);
      const timespec hold{0, 100'000'000};
      ::syscall(SYS_nanosleep, &hold, nullptr);
      ::_exit(0);
    }
    char c;
    (void)::read(ready[0], &c, 1);
    const auto t0 = Clock::now();
    std::string d = "tlock " + r_text(::lockf(fd, F_TLOCK, 0));
    d += ", test " + r_text(::lockf(fd, F_TEST, 0));
    d += ", lock waits " + r_text(::lockf(fd, F_LOCK, 0));
    t.ms.push_back(ms_since(t0));
    d += ", unlock " + r_text(::lockf(fd, F_ULOCK, 0));
    struct flock region{};
    region.l_type = F_WRLCK;
    region.l_whence = SEEK_SET;
    d += ", setlkw free " + r_text(::fcntl(fd, F_SETLKW, &region));
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(ready[0]);
    ::close(ready[1]);
    ::close(fd);
    return Outcome{0, 0, d};
  });
  const std::string busy = "-1/" + std::string(std::strerror(EACCES));
  const std::string busy_again = "-1/" + std::string(std::strerror(EAGAIN));
  // lockf's F_TLOCK and F_TEST say EACCES or EAGAIN, as the kernel's F_SETLK does here.
  CHECK((ref.detail == "tlock " + busy + ", test " + busy + ", lock waits 0, unlock 0, setlkw free 0" ||
         ref.detail == "tlock " + busy_again + ", test " + busy + ", lock waits 0, unlock 0, setlkw free 0" ||
         ref.detail == "tlock " + busy_again + ", test " + busy_again + ", lock waits 0, unlock 0, setlkw free 0"));
  t.check(80);
}
