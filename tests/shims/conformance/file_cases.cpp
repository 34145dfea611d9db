// read, pread and pread64 on regular files: whole reads, the file offset, the end of the
// file, a read that spans cached and uncached pages, and libc's errors; write, pwrite and
// pwrite64: small and big writes, the offset, O_APPEND, errors; fsync and fdatasync. On a
// plain thread and in a fiber alike (where what the page cache lacks is read, and big
// writes are made, on the blocking pool: shims/file_io.hpp, shims/fsync.cpp).
#include "conformance.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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
WEFT_CONFORMS(pwrite)
WEFT_CONFORMS(pwrite64)
WEFT_CONFORMS(fsync)
WEFT_CONFORMS(fdatasync)

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

namespace {

// The file's size and a digest of its bytes (sum of byte * (index % 251 + 1)), so that a
// write that went astray changes the answer.
std::string file_digest(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "fstat failed";
  std::vector<unsigned char> bytes(static_cast<std::size_t>(st.st_size));
  if (::pread(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) return "pread failed";
  unsigned long long sum = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) sum += bytes[i] * (i % 251 + 1);
  return std::to_string(st.st_size) + "/" + std::to_string(sum);
}

std::string result(ssize_t r) {
  return r < 0 ? "-1/" + std::string(std::strerror(errno)) : std::to_string(r);
}

}  // namespace

TEST_CASE("write and pwrite of a regular file: small and big writes, the offset, O_APPEND, errors") {
  const Outcome ref = check_conforms([] {
    ScratchFile f(0);
    std::vector<char> big(3 << 20);  // above the size that goes to the pool
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('A' + i % 23);
    std::string d;
    d += "small " + result(::write(f.fd, "hello", 5));
    d += ", big " + result(::write(f.fd, big.data(), big.size()));
    d += ", offset " + std::to_string(::lseek(f.fd, 0, SEEK_CUR));
    d += "; pwrite " + result(::pwrite(f.fd, "XY", 2, 1));
    d += ", pwrite big " + result(::pwrite(f.fd, big.data(), 1 << 20, 100));
    d += ", pwrite64 past the end " + result(::pwrite64(f.fd, "Z", 1, (4 << 20) + 7));
    d += ", offset kept " + std::to_string(::lseek(f.fd, 0, SEEK_CUR));
    d += ", negative " + result(::pwrite(f.fd, "x", 1, -1));
    d += "; contents " + file_digest(f.fd);
    const int append = ::open(f.path.c_str(), O_WRONLY | O_APPEND);
    d += "; O_APPEND " + result(::write(append, big.data(), big.size()));
    d += ", pwrite appends " + result(::pwrite(append, "Q", 1, 0));
    d += ", contents " + file_digest(f.fd);
    ::close(append);
    const int read_only = ::open(f.path.c_str(), O_RDONLY);
    d += "; read-only " + result(::write(read_only, big.data(), big.size()));
    d += ", small " + result(::write(read_only, "x", 1));
    ::close(read_only);
    d += ", bad fd " + result(::pwrite(-1, "x", 1, 0));
    int p[2];
    if (::pipe(p) == 0) {
      d += ", pipe " + result(::pwrite(p[1], "x", 1, 0));
      ::close(p[0]);
      ::close(p[1]);
    }
    return Outcome{0, 0, d};
  });
  // Digests worked out on a plain thread, before the shims took big writes to the pool.
  CHECK(ref.detail == "small 5, big 3145728, offset 3145733; pwrite 2, pwrite big 1048576, pwrite64 past the end 1, "
                      "offset kept 3145733, negative -1/" + std::string(std::strerror(EINVAL)) +
                          "; contents 4194312/30123150576; O_APPEND 3145728, pwrite appends 1, contents "
                          "7340041/60246863799; read-only -1/" + std::strerror(EBADF) + ", small -1/" +
                          std::strerror(EBADF) + ", bad fd -1/" + std::strerror(EBADF) + ", pipe -1/" +
                          std::strerror(ESPIPE));
}

TEST_CASE("fsync and fdatasync: a file, errors") {
  const Outcome ref = check_conforms([] {
    ScratchFile f(1 << 20);
    std::string d;
    d += "fsync " + result(::fsync(f.fd));
    d += ", fdatasync " + result(::fdatasync(f.fd));
    d += ", bad fd " + result(::fsync(-1)) + " " + result(::fdatasync(1 << 20));
    int p[2];
    if (::pipe(p) == 0) {
      d += ", pipe " + result(::fsync(p[0])) + " " + result(::fdatasync(p[1]));
      ::close(p[0]);
      ::close(p[1]);
    }
    return Outcome{0, 0, d};
  });
  CHECK(ref.detail == "fsync 0, fdatasync 0, bad fd -1/" + std::string(std::strerror(EBADF)) + " -1/" +
                          std::strerror(EBADF) + ", pipe -1/" + std::strerror(EINVAL) + " -1/" + std::strerror(EINVAL));
}
