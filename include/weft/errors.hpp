// weft's exception types. Misuse of the API (an empty handle, a Promise set twice, a NaN
// duration) throws std::logic_error-derived standard types (std::future_error,
// std::invalid_argument); conditions the runtime detects throw types derived from
// std::system_error.
#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace weft {

// Thrown by Unfuture::get()/wait() when the wait could never end: a fiber joining the
// Unfuture of its own work. Carries errc::resource_deadlock_would_occur, as a
// std::thread joining itself does.
class deadlock_error : public std::system_error {
 public:
  explicit deadlock_error(const char* what)
      : std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur), what) {}
};

// Thrown by weft's own waiting calls in a fiber that was cancelled (Unfuture::cancel()
// while it runs), and stored in an Unfuture whose work was cancelled before it started.
// Carries errc::operation_canceled, as a cancelled fiber's hooked libc calls carry
// ECANCELED.
class cancelled_error : public std::system_error {
 public:
  explicit cancelled_error(const char* what = "weft: cancelled")
      : std::system_error(std::make_error_code(std::errc::operation_canceled), what) {}
};

// Thrown by weft's own waiting calls in a fiber whose weft::Timeout has passed (its
// hooked libc calls fail with ETIMEDOUT meanwhile). Carries errc::timed_out.
// weft::net's own deadlines throw net::timeout_error, derived from this one.
class timeout_error : public std::system_error {
 public:
  explicit timeout_error(const char* what = "weft: timed out")
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
  explicit timeout_error(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

// Thrown by a send on a closed weft::Channel (also by one parked when close() came, and by
// a select whose chosen case is such a send) and by closing a channel twice: misuse, as
// Go's panics for the same say, so a std::logic_error. Only the senders' side should close
// a channel, once, after its last send.
class channel_closed : public std::logic_error {
 public:
  explicit channel_closed(const char* what = "weft: send on a closed channel") : std::logic_error(what) {}
};

}  // namespace weft
