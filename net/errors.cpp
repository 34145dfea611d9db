#include <weft/net/errors.hpp>

namespace weft::net {

bool is_disconnect(const std::system_error& e) noexcept {
  if (dynamic_cast<const timeout_error*>(&e) != nullptr || dynamic_cast<const unexpected_eof*>(&e) != nullptr) {
    return true;
  }
  const std::error_code& c = e.code();
  return c == std::errc::connection_reset || c == std::errc::broken_pipe ||
         c == std::errc::connection_aborted || c == std::errc::not_connected ||
         c == std::errc::timed_out;
}

}  // namespace weft::net
