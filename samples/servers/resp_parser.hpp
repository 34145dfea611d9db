// Reading Redis commands (RESP2): arrays of bulk strings, as clients send them, and inline
// commands, as typed into telnet.
#pragma once

#include <charconv>
#include <cstddef>
#include <string_view>
#include <vector>

namespace samples::resp {

struct Command {
  enum class Status { complete, incomplete, bad } status = Status::incomplete;
  std::size_t length = 0;              // bytes taken from the input, when complete
  std::vector<std::string_view> args;  // views into the input
  const char* error = nullptr;         // why it is bad
};

// Longest bulk string and longest inline command accepted (redis: 512 MB and 64 KiB).
constexpr std::size_t kMaxBulk = 64u << 20;
constexpr std::size_t kMaxInline = 64u << 10;
constexpr long kMaxArgs = 1 << 20;

namespace detail {

// A "<prefix><integer>\r\n" line at in[at]: its value and the offset after it; false if
// incomplete; sets error if malformed.
inline bool read_count(std::string_view in, std::size_t& at, char prefix, long& value, const char*& error) {
  const auto eol = in.find("\r\n", at);
  if (eol == std::string_view::npos) {
    if (in.size() - at > 32) error = "Protocol error: line too long";
    return false;
  }
  if (in[at] != prefix) {
    error = prefix == '$' ? "Protocol error: expected '$'" : "Protocol error";
    return false;
  }
  const char* first = in.data() + at + 1;
  const char* last = in.data() + eol;
  const auto [p, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || p != last || first == last) {
    error = "Protocol error: invalid length";
    return false;
  }
  at = eol + 2;
  return true;
}

}  // namespace detail

// The first command in `in`; args is reused to spare allocations.
inline void parse(std::string_view in, Command& c) {
  c.status = Command::Status::incomplete;
  c.args.clear();
  c.error = nullptr;
  if (in.empty()) return;
  std::size_t at = 0;
  if (in[0] != '*') {
    const auto eol = in.find('\n');
    if (eol == std::string_view::npos) {
      if (in.size() > kMaxInline) c.error = "Protocol error: too big inline request";
      c.status = c.error ? Command::Status::bad : Command::Status::incomplete;
      return;
    }
    std::string_view line = in.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && line[i] == ' ') ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > start) c.args.push_back(line.substr(start, i - start));
    }
    c.length = eol + 1;
    c.status = Command::Status::complete;
    return;
  }
  long count = 0;
  if (!detail::read_count(in, at, '*', count, c.error)) {
    c.status = c.error ? Command::Status::bad : Command::Status::incomplete;
    return;
  }
  if (count > kMaxArgs) {
    c.error = "Protocol error: invalid multibulk length";
    c.status = Command::Status::bad;
    return;
  }
  for (long i = 0; i < count; ++i) {
    long size = 0;
    if (at >= in.size() || !detail::read_count(in, at, '$', size, c.error)) {
      c.status = c.error ? Command::Status::bad : Command::Status::incomplete;
      return;
    }
    if (size < 0 || static_cast<std::size_t>(size) > kMaxBulk) {
      c.error = "Protocol error: invalid bulk length";
      c.status = Command::Status::bad;
      return;
    }
    const auto n = static_cast<std::size_t>(size);
    if (in.size() - at < n + 2) return;  // incomplete
    if (in.substr(at + n, 2) != "\r\n") {
      c.error = "Protocol error: bulk string not terminated";
      c.status = Command::Status::bad;
      return;
    }
    c.args.push_back(in.substr(at, n));
    at += n + 2;
  }
  c.length = at;
  c.status = Command::Status::complete;
}

}  // namespace samples::resp
