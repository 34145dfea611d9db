#include "unretrieved.hpp"

#include <weft/errors.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace weft::rt {

namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}

}  // namespace

void report_unretrieved(const std::exception_ptr& e, const std::string* fiber_name) noexcept {
  try {
    std::string type = "unknown exception";
    std::string what;
    try {
      std::rethrow_exception(e);
    } catch (const cancelled_error&) {
      return;  // the fiber stopped because someone asked it to: nothing to report
    } catch (const std::exception& ex) {
      type = demangle(typeid(ex).name());
      what = ex.what();
    } catch (...) {
      if (const std::type_info* t = abi::__cxa_current_exception_type()) type = demangle(t->name());
    }
    std::string where = fiber_name ? " in fiber '" + *fiber_name + "'" : std::string();
    std::fprintf(stderr, "weft: exception%s was never retrieved: %s%s%s\n", where.c_str(),
                 type.c_str(), what.empty() ? "" : ": ", what.c_str());
  } catch (...) {
    std::fputs("weft: exception was never retrieved (and describing it failed)\n", stderr);
  }
}

}  // namespace weft::rt
