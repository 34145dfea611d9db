// Owned sockets and the byte-stream operations shared by TCP and Unix-domain streams.
//
// Every socket weft::net makes is non-blocking in the kernel and known to the runtime, so
// a blocking operation suspends only the calling fiber (the reactor wakes it), or blocks
// a plain thread in poll(). Each operation takes an optional Deadline and throws
// timeout_error when it passes; any other failure throws std::system_error with the errno.
// Writes never raise SIGPIPE: a peer that went away is an EPIPE exception.
//
// A Socket is used by one fiber or thread at a time (two fibers may use one Stream if one
// only reads and the other only writes), except close(), which any fiber or thread may
// call at any time to stop the one using it.
#pragma once

#include <weft/deadline.hpp>
#include <weft/net/address.hpp>
#include <weft/net/errors.hpp>

#include <atomic>
#include <cstddef>
#include <span>
#include <string_view>

namespace weft::net {

namespace detail {
struct StreamFactory;  // the library's own way to wrap fds it has already made managed
}

class Socket {
 public:
  Socket() noexcept = default;
  // Takes ownership of fd, a socket made elsewhere: it is made non-blocking in the kernel
  // and managed by weft from now on. Throws std::system_error(EBADF) for a bad fd.
  static Socket adopt(int fd);

  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  ~Socket() { close(); }

  int fd() const noexcept { return fd_.load(std::memory_order_relaxed); }
  bool is_open() const noexcept { return fd() >= 0; }
  explicit operator bool() const noexcept { return is_open(); }

  // Gives up ownership: the caller closes the fd (it stays non-blocking in the kernel; the
  // libc shims still make blocking calls on it behave as blocking ones).
  int release() noexcept;
  // Closes now; waiters on it in other fibers wake with EBADF. Idempotent.
  void close() noexcept;

  SocketAddress local_address() const;
  // setsockopt / getsockopt with a typed value. Throw std::system_error.
  template <class T>
  void set_option(int level, int name, const T& value) {
    set_option_bytes(level, name, &value, sizeof value);
  }
  template <class T>
  T get_option(int level, int name) const {
    T value{};
    get_option_bytes(level, name, &value, sizeof value);
    return value;
  }

 protected:
  explicit Socket(int managed_fd) noexcept : fd_(managed_fd) {}
  void set_option_bytes(int level, int name, const void* value, std::size_t size);
  void get_option_bytes(int level, int name, void* value, std::size_t size) const;

  // Atomic: close() may come from another thread while an operation reads it. Operations
  // that wait wake with EBADF; one that loaded the number just before the close may still
  // pass it to the kernel once more, as with a plain fd closed under a thread's read.
  std::atomic<int> fd_{-1};
};

enum class ShutdownHow { read, write, both };

// A connected byte stream: TcpStream and UnixStream.
class Stream : public Socket {
 public:
  Stream() noexcept = default;

  // Reads what is there, at most into.size() bytes, waiting until something is. Returns
  // 0 at the end of the stream (or for an empty buffer).
  std::size_t read(void* into, std::size_t size, Deadline deadline = {});
  std::size_t read(std::span<std::byte> into, Deadline deadline = {}) {
    return read(into.data(), into.size(), deadline);
  }
  std::size_t read(std::span<char> into, Deadline deadline = {}) {
    return read(into.data(), into.size(), deadline);
  }
  // Reads exactly size bytes. Throws unexpected_eof if the stream ends first.
  void read_exact(void* into, std::size_t size, Deadline deadline = {});
  void read_exact(std::span<std::byte> into, Deadline deadline = {}) {
    read_exact(into.data(), into.size(), deadline);
  }
  void read_exact(std::span<char> into, Deadline deadline = {}) {
    read_exact(into.data(), into.size(), deadline);
  }

  // Writes what the kernel takes now, at least one byte unless size is 0, waiting until
  // it takes some. Returns the count.
  std::size_t write(const void* from, std::size_t size, Deadline deadline = {});
  // Writes everything, waiting as often as needed.
  void write_all(const void* from, std::size_t size, Deadline deadline = {});
  void write_all(std::string_view bytes, Deadline deadline = {}) {
    write_all(bytes.data(), bytes.size(), deadline);
  }
  void write_all(std::span<const std::byte> bytes, Deadline deadline = {}) {
    write_all(bytes.data(), bytes.size(), deadline);
  }

  // Ends one or both directions: the peer reads the end of the stream after `write`.
  void shutdown(ShutdownHow how = ShutdownHow::write);
  SocketAddress peer_address() const;

 protected:
  explicit Stream(int managed_fd) noexcept : Socket(managed_fd) {}
};

}  // namespace weft::net
