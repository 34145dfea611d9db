// read, pread and pread64 on regular files: whole reads, the file offset, the end of the
// file, a read that spans cached and uncached pages, and libc's errors, on a plain thread
// and in a fiber alike (where what the page cache lacks is read on the blocking pool:
// shims/file_io.hpp).
#include "conformance.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using weft_test::check_conforms;
using weft_test::Outcome;

WEFT_CONFORMS(pread)
WEFT_CONFORMS(pread64)

namespace {

// A scratch file of `size` bytes, byte i being 'a' + i % 26; removed at the end.
struct ScratchFile {
  std::string path;
  int fd = -1;
  explicit ScratchFile(std::size_t size) {
    char name[] = "/tmp/weft-file-XXXXXX";
    fd = ::mkstemp(name);
    path = name;
    std::vector<char> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
    if (fd >= 0 && ::write(fd, bytes.data(), size) != static_cast<ssize_t>(size)) {
      ::close(fd);
      fd = -1;
    }
  }
  ~ScratchFile() {
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
  }
  // Drops the file's pages from the page cache (written back first), so the next read
  // must go to the disk.
  void evict() const {
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
};

// The bytes as "<count> <first 3>..<last 3>", or the error.
std::string got(ssize_t n, const char* buf) {
  if (n < 0) return "-1/" + std::string(std::strerror(errno));
  if (n < 6) return std::to_string(n) + " " + std::string(buf, static_cast<std::size_t>(n));
  return std::to_string(n) + " " + std::string(buf, 3) + ".." + std::string(buf + n - 3, 3);
}

}  // namespace

TEST_CASE("read and pread of a regular file: whole reads, the offset, the end, errors") {
  const Outcome ref = check_conforms([] {
    ScratchFile f(100'000);
    std::vector<char> buf(200'000);
    std::string d;
    ::lseek(f.fd, 0, SEEK_SET);
    d += "read " + got(::read(f.fd, buf.data(), 1000), buf.data());
    d += ", offset " + std::to_string(::lseek(f.fd, 0, SEEK_CUR));
    d += ", past the end " + got(::read(f.fd, buf.data(), buf.size()), buf.data());
    d += ", at the end " + got(::read(f.fd, buf.data(), buf.size()), buf.data());
    d += "; pread " + got(::pread(f.fd, buf.data(), 10, 26 * 3 + 1), buf.data());
    d += ", pread64 " + got(::pread64(f.fd, buf.data(), 5, 99'998), buf.data());
    d += ", offset kept " + std::to_string(::lseek(f.fd, 0, SEEK_CUR));
    d += ", negative " + got(::pread(f.fd, buf.data(), 1, -1), buf.data());
    d += ", bad fd " + got(::pread(-1, buf.data(), 1, 0), buf.data());
    int p[2];
    if (::pipe(p) == 0) {
      d += ", pipe " + got(::pread(p[0], buf.data(), 1, 0), buf.data());
      ::close(p[0]);
      ::close(p[1]);
    }
    return Outcome{0, 0, d};
  });
  CHECK(ref.detail == "read 1000 abc..jkl, offset 1000, past the end 99000 mno..bcd, at the end 0 ; pread 10 bcd..ijk, "
                      "pread64 2 cd, offset kept 100000, negative -1/" + std::string(std::strerror(EINVAL)) +
                          ", bad fd -1/" + std::strerror(EBADF) + ", pipe -1/" + std::strerror(ESPIPE));
}

TEST_CASE("read of a file whose pages left the cache: all of it, in one call, partly cached or not") {
  const Outcome ref = check_conforms([] {
    ScratchFile f(4 << 20);
    std::vector<char> buf(5 << 20);
    std::string d;
    f.evict();
    d += "cold " + got(::pread(f.fd, buf.data(), 4 << 20, 0), buf.data());
    // The first half cached again, the second not: one read still returns all of it.
    f.evict();
    (void)::pread(f.fd, buf.data(), 2 << 20, 0);
    ::lseek(f.fd, 0, SEEK_SET);
    d += ", half cached " + got(::read(f.fd, buf.data(), buf.size()), buf.data());
    d += ", offset " + std::to_string(::lseek(f.fd, 0, SEEK_CUR));
    return Outcome{0, 0, d};
  });
  CHECK(ref.detail == "cold 4194304 abc..hij, half cached 4194304 abc..hij, offset 4194304");
}
