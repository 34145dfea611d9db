// Reading Redis commands (RESP2): arrays of bulk strings, as clients send them, and inline
// commands, as typed into telnet.
//
// The parser is incremental, one per connection: a command that arrives over many reads
// is parsed as it comes, each byte looked at once, instead of from its first byte on
// every read (which made a 7 MB command cost seconds). And it bounds what one client can
// make the server hold: a command whose header announces more than the limits below is
// refused at once, before its bytes pile up in memory.
#pragma once

#include <charconv>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace samples::resp {

// The limits (redis has proto-max-bulk-len, 512 MB, and client-query-buffer-limit, 1 GB;
// a sample keeps them small).
constexpr std::size_t kMaxBulk = 16u << 20;     // one bulk string
constexpr std::size_t kMaxCommand = 32u << 20;  // one whole command, all its bulk strings
constexpr std::size_t kMaxInline = 64u << 10;   // one inline command line
constexpr long kMaxArgs = 1 << 20;

class Parser {
 public:
  enum class Status { complete, incomplete, bad };

  // Parses the command at the front of `in`. While it is incomplete, call again once more
  // has come, with `in` starting at the same byte (the buffer may have moved): parsing
  // goes on where it stopped. After complete, call next() before the following command.
  Status parse(std::string_view in) {
    for (;;) {
      switch (stage_) {
        case Stage::start:
          if (in.empty()) return Status::incomplete;
          stage_ = in[0] == '*' ? Stage::array_header : Stage::inline_line;
          break;
        case Stage::inline_line:
          return parse_inline(in);
        case Stage::array_header: {
          long count = 0;
          if (const Status s = read_count(in, '*', count); s != Status::complete) return s;
          if (count > kMaxArgs) return fail("Protocol error: invalid multibulk length");
          args_left_ = count;  // zero or negative: an empty command, which is ignored
          stage_ = Stage::bulk_header;
          break;
        }
        case Stage::bulk_header: {
          if (args_left_ <= 0) return finish(in);
          long size = 0;
          if (const Status s = read_count(in, '$', size); s != Status::complete) return s;
          if (size < 0 || static_cast<std::size_t>(size) > kMaxBulk) {
            return fail("Protocol error: invalid bulk length");
          }
          bulk_size_ = static_cast<std::size_t>(size);
          if (at_ + bulk_size_ + 2 > kMaxCommand) return fail("Protocol error: command too big");
          stage_ = Stage::bulk_data;
          break;
        }
        case Stage::bulk_data:
          if (in.size() - at_ < bulk_size_ + 2) return Status::incomplete;
          if (in.substr(at_ + bulk_size_, 2) != "\r\n") return fail("Protocol error: bulk string not terminated");
          spans_.emplace_back(at_, bulk_size_);
          at_ += bulk_size_ + 2;
          --args_left_;
          stage_ = Stage::bulk_header;
          break;
        case Stage::done:
          return Status::complete;
        case Stage::bad:
          return Status::bad;
      }
    }
  }

  // After complete: the bytes the command took, and its arguments, views into the `in`
  // of the last parse().
  std::size_t length() const { return at_; }
  const std::vector<std::string_view>& args() const { return args_; }
  // After bad: why, as redis words it.
  const char* error() const { return error_; }

  // Gets ready for the next command (the vectors keep their room, unless a huge command
  // made it huge).
  void next() {
    stage_ = Stage::start;
    at_ = 0;
    args_left_ = 0;
    bulk_size_ = 0;
    spans_.clear();
    args_.clear();
    if (args_.capacity() > 4096) {
      spans_.shrink_to_fit();
      args_.shrink_to_fit();
    }
  }

 private:
  enum class Stage { start, inline_line, array_header, bulk_header, bulk_data, done, bad };

  Status fail(const char* why) {
    error_ = why;
    stage_ = Stage::bad;
    return Status::bad;
  }

  Status finish(std::string_view in) {
    for (const auto& [offset, size] : spans_) args_.push_back(in.substr(offset, size));
    stage_ = Stage::done;
    return Status::complete;
  }

  // A line ending in '\n', split on spaces. at_ is how far the search has got.
  Status parse_inline(std::string_view in) {
    const auto eol = in.find('\n', at_);
    if (eol == std::string_view::npos) {
      at_ = in.size();
      return at_ > kMaxInline ? fail("Protocol error: too big inline request") : Status::incomplete;
    }
    std::string_view line = in.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && line[i] == ' ') ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > start) args_.push_back(line.substr(start, i - start));
    }
    at_ = eol + 1;
    stage_ = Stage::done;
    return Status::complete;
  }

  // A "<prefix><integer>\r\n" line at in[at_]: its value, and at_ moves past it. Such a
  // line is short, so looking at it again when it comes in two reads costs nothing.
  Status read_count(std::string_view in, char prefix, long& value) {
    if (at_ >= in.size()) return Status::incomplete;
    if (in[at_] != prefix) return fail(prefix == '$' ? "Protocol error: expected '$'" : "Protocol error");
    const auto eol = in.find("\r\n", at_);
    if (eol == std::string_view::npos) {
      return in.size() - at_ > 32 ? fail("Protocol error: line too long") : Status::incomplete;
    }
    const char* first = in.data() + at_ + 1;
    const char* last = in.data() + eol;
    const auto [p, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || p != last || first == last) return fail("Protocol error: invalid length");
    at_ = eol + 2;
    return Status::complete;
  }

  Stage stage_ = Stage::start;
  std::size_t at_ = 0;        // bytes of this command parsed so far
  long args_left_ = 0;        // bulk strings still to come
  std::size_t bulk_size_ = 0;  // the size of the one being read
  // Where each bulk string lies, from the command's first byte: offsets, not views, since
  // the buffer may move between reads.
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::vector<std::string_view> args_;
  const char* error_ = nullptr;
};

}  // namespace samples::resp
