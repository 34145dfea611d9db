// Reporting exceptions that nobody retrieved (SPEC §2: never silently lost).
#pragma once

#include <exception>
#include <string>

namespace weft::rt {

// Writes one line to stderr: the exception's type, what(), and the fiber's name if set.
void report_unretrieved(const std::exception_ptr& e, const std::string* fiber_name) noexcept;

}  // namespace weft::rt
