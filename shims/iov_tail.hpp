// The part of an iovec array left after a partial transfer, for continuing writev/sendmsg.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <vector>

namespace weft::shim {

inline std::size_t iov_total(const iovec* iov, int count) noexcept {
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

class IovTail {
 public:
  IovTail(const iovec* iov, int count) noexcept : iov_(iov), count_(count) {}

  // Sets *out/*count to the entries that remain after skipping `done` bytes.
  void after(std::size_t done, const iovec** out, int* count) {
    if (done == 0) {
      *out = iov_;
      *count = count_;
      return;
    }
    int i = 0;
    while (i < count_ && done >= iov_[i].iov_len) done -= iov_[i++].iov_len;
    rest_.assign(iov_ + i, iov_ + count_);
    if (!rest_.empty()) {
      rest_[0].iov_base = static_cast<char*>(rest_[0].iov_base) + done;
      rest_[0].iov_len -= done;
    }
    *out = rest_.data();
    *count = static_cast<int>(rest_.size());
  }

 private:
  const iovec* iov_;
  int count_;
  std::vector<iovec> rest_;
};

}  // namespace weft::shim
