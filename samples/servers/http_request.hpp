// Just enough HTTP/1.x request parsing for http_hello: find where each request ends, and
// whether the connection stays open after it.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <string_view>

namespace samples::http {

struct Request {
  enum class Status { complete, incomplete, bad } status = Status::incomplete;
  std::size_t length = 0;   // head and body, when complete
  bool keep_alive = true;   // HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive
};

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return (x | 0x20) == (y | 0x20); });
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "METHOD SP target SP HTTP/1.x": the minor version, or -1.
inline int request_line_version(std::string_view line) {
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || sp2 == sp1) return -1;
  for (char c : line.substr(0, sp1)) {
    if (c < 'A' || c > 'Z') return -1;
  }
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") return 1;
  if (version == "HTTP/1.0") return 0;
  return -1;
}

// The first request in `in`.
inline Request parse(std::string_view in) {
  Request r;
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return r;
  std::string_view head = in.substr(0, head_end + 2);
  auto eol = head.find("\r\n");
  const int minor = request_line_version(head.substr(0, eol));
  if (minor < 0) {
    r.status = Request::Status::bad;
    return r;
  }
  r.keep_alive = minor == 1;
  std::size_t body = 0;
  for (head.remove_prefix(eol + 2); !head.empty(); head.remove_prefix(eol + 2)) {
    eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      r.status = Request::Status::bad;
      return r;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      const auto [at, ec] = std::from_chars(value.data(), value.data() + value.size(), body);
      if (ec != std::errc() || at != value.data() + value.size()) {
        r.status = Request::Status::bad;
        return r;
      }
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) r.keep_alive = false;
      if (iequals(value, "keep-alive")) r.keep_alive = true;
    } else if (iequals(name, "transfer-encoding")) {
      r.status = Request::Status::bad;  // chunked bodies are beyond this sample
      return r;
    }
  }
  if (in.size() - (head_end + 4) < body) return r;  // the body is still on its way
  r.status = Request::Status::complete;
  r.length = head_end + 4 + body;
  return r;
}

}  // namespace samples::http
