#include <weft/process.hpp>

#include <string>

namespace weft {

namespace {

class ProcessCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.process"; }
  std::string message(int code) const override {
    switch (static_cast<process_errc>(code)) {
      case process_errc::crashed:
        return "worker process killed by a signal";
      case process_errc::exited:
        return "worker process exited during the task";
      case process_errc::timed_out:
        return "task timed out in its worker process";
      case process_errc::unavailable:
        return "function unavailable in the worker process";
      case process_errc::start_failed:
        return "worker process could not start";
    }
    return "unknown process error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& process_category() noexcept {
  static const ProcessCategory category;
  return category;
}

std::error_code make_error_code(process_errc e) noexcept {
  return {static_cast<int>(e), process_category()};
}

}  // namespace weft
