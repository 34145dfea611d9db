// What weft::net throws. Every error is a std::system_error: the errno category
// (std::generic_category) where the kernel said why, resolve_category() for getaddrinfo's
// EAI_* codes. Bad arguments (a malformed address, a NaN timeout) throw
// std::invalid_argument; a zero or negative timeout is a deadline already passed.
#pragma once

#include <weft/errors.hpp>

#include <string>
#include <system_error>

namespace weft::net {

// A deadline passed before the operation could finish. Carries errc::timed_out. Nothing
// was transferred by the call that threw, except by write_all/read_exact, whose progress
// is lost with the exception (the stream is then best closed).
// A weft::timeout_error, so one handler catches both this and a Timeout's.
class timeout_error : public weft::timeout_error {
 public:
  explicit timeout_error(const std::string& what) : weft::timeout_error(what) {}
};

// read_exact: the peer ended the stream before all the bytes came. Carries
// errc::no_message_available (ENODATA): there is no errno for "end of stream".
class unexpected_eof : public std::system_error {
 public:
  explicit unexpected_eof(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::no_message_available), what) {}
};

// getaddrinfo's EAI_* codes (value() is the EAI_ code, message() gai_strerror's text).
const std::error_category& resolve_category() noexcept;

class resolve_error : public std::system_error {
 public:
  resolve_error(int eai_code, const std::string& what)
      : std::system_error(eai_code, resolve_category(), what) {}
};

// True for the errors that mean only "the peer went away or stopped answering":
// ECONNRESET, EPIPE, ECONNABORTED, ENOTCONN, ETIMEDOUT, a timeout_error, an
// unexpected_eof. serve() does not report these from handlers.
bool is_disconnect(const std::system_error& e) noexcept;

}  // namespace weft::net
