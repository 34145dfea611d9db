// The one engine under every channel operation: a blocking send is a select of one case.
// (A send or receive that only the buffer is involved in never gets here: the template
// does it under the channel's lock and calls select_one_locked, still holding it, only
// when a parked case or a wait may be involved.)
// Go's selectgo, in the same four steps:
//   1. order: a random poll order (so among ready cases each is chosen with equal
//      chance) and a lock order (by channel address, so two selects over the same
//      channels cannot deadlock; a channel named twice is locked once);
//   2. with every channel locked, run the first case that can complete now;
//   3. if none can (and the caller may wait): queue one case on each channel, all
//      pointing at one Parker on this stack, and park on it. The Parker's lock is taken
//      before the channels' are released, so an operation that finds a queued case and
//      claims it (case_queue.cpp) always finds its owner parked or about to be;
//   4. once woken (or timed out), lock every channel again and unlink the cases nobody
//      claimed. The winner moved the value while holding the Parker's lock, so reading
//      `fired` under it is enough to know the value is there.
// Waiting itself is the runtime's parking primitive (park_on): a fiber parks only itself,
// a plain thread blocks, and a waker on any worker or thread makes it ready.
#include "case_queue.hpp"
#include "channel_ops.hpp"

#include <weft/errors.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>

namespace weft::sync {

namespace {

// A per-thread xorshift generator: the poll order needs speed and uniformity, not secrecy.
std::uint32_t next_random() noexcept {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    seed ^= reinterpret_cast<std::uintptr_t>(&seed);
    return seed | 1;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::uint32_t>(state >> 32);
}

// A uniform index in [0, bound).
std::uint16_t random_below(std::size_t bound) noexcept {
  return static_cast<std::uint16_t>((static_cast<std::uint64_t>(next_random()) * bound) >> 32);
}

void shuffle_poll_order(std::uint16_t* order, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {  // Fisher-Yates, growing the permutation by one
    const std::uint16_t j = random_below(i + 1);
    if (j != i) order[i] = order[j];
    order[j] = static_cast<std::uint16_t>(i);
  }
}

void sort_lock_order(const SelectCase* cases, std::uint16_t* order, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {  // insertion sort: selects have a handful of cases
    const std::uint16_t c = static_cast<std::uint16_t>(i);
    std::size_t j = i;
    for (; j > 0 && std::less<>{}(cases[c].channel, cases[order[j - 1]].channel); --j) order[j] = order[j - 1];
    order[j] = c;
  }
}

// Every channel of a select, locked in address order, each once.
class ChannelLocks {
 public:
  ChannelLocks(const SelectCase* cases, const std::uint16_t* order, std::size_t n) noexcept
      : cases_(cases), order_(order), n_(n) {
    lock();
  }
  // The caller has locked them already.
  ChannelLocks(const SelectCase* cases, const std::uint16_t* order, std::size_t n, std::adopt_lock_t) noexcept
      : cases_(cases), order_(order), n_(n), held_(true) {}
  ~ChannelLocks() {
    if (held_) unlock();
  }
  ChannelLocks(const ChannelLocks&) = delete;
  ChannelLocks& operator=(const ChannelLocks&) = delete;

  void lock() noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
      if (!repeats(i)) detail::lock_wait(channel(i).lock);
    }
    held_ = true;
  }
  void unlock() noexcept {
    for (std::size_t i = n_; i-- > 0;) {
      if (!repeats(i)) detail::unlock_wait(channel(i).lock);
    }
    held_ = false;
  }

 private:
  ChannelCore& channel(std::size_t i) const noexcept { return *cases_[order_[i]].channel; }
  bool repeats(std::size_t i) const noexcept { return i > 0 && &channel(i) == &channel(i - 1); }

  const SelectCase* cases_;
  const std::uint16_t* order_;
  std::size_t n_;
  bool held_ = false;
};

CaseQueue& queue_for(SelectCase& c) noexcept { return c.is_send ? c.channel->senders : c.channel->receivers; }

// Steps 2 to 4, with every channel locked.
std::size_t select_locked(SelectCase* cases, const std::uint16_t* poll_order, ChannelLocks& locks, std::size_t n,
                          std::chrono::steady_clock::time_point deadline, bool may_wait) {
  using detail::lock_wait;
  using detail::park_on;
  using detail::unlock_wait;
  for (std::size_t k = 0; k < n; ++k) {
    SelectCase& c = cases[poll_order[k]];
    SelectCase* to_wake = nullptr;
    const CaseResult r = c.is_send ? run_send_locked(*c.channel, c.slot, to_wake)
                                   : run_receive_locked(*c.channel, c.slot, to_wake);
    if (r == CaseResult::done) {
      locks.unlock();  // before the wake: the woken owner may free the channel at once
      if (to_wake != nullptr) wake_claimed(*to_wake);
      return poll_order[k];
    }
    if (r == CaseResult::send_on_closed) {
      locks.unlock();
      throw channel_closed();
    }
  }
  const bool timed = deadline != std::chrono::steady_clock::time_point::max();
  if (!may_wait || (timed && std::chrono::steady_clock::now() >= deadline)) return n;

  Parker parker;
  for (std::size_t i = 0; i < n; ++i) {
    cases[i].parker = &parker;
    cases[i].index = static_cast<int>(i);
    enqueue_locked(queue_for(cases[i]), cases[i]);
  }
  lock_wait(parker.lock);
  locks.unlock();
  const detail::ParkOutcome outcome =
      park_on(parker.sleeper, parker.lock, deadline, WaitKind::channel, n > 0 ? cases[0].channel : nullptr);
  // Timed out or cancelled, unless an operation claimed it first (then it happened, and
  // is reported whatever else ended the park): no operation may claim it now.
  if (parker.fired == -1) parker.fired = -2;
  const int fired = parker.fired;
  const bool by_close = parker.fired_by_close;
  unlock_wait(parker.lock);

  // A lone case that fired by an operation was unlinked by its claimer, who released the
  // channel's lock before the wake: the channel is not touched again, so the caller may
  // free it once this returns. close() wakes with the lock held, so a case fired by it
  // waits for that lock once, whatever else is left to unlink.
  if (n > 1 || fired < 0 || by_close) {
    locks.lock();
    for (std::size_t i = 0; i < n; ++i) {
      if (cases[i].queued) dequeue_locked(queue_for(cases[i]), cases[i]);
    }
    locks.unlock();
  }
  if (fired < 0) {
    if (outcome == detail::ParkOutcome::cancelled) detail::throw_cancelled();
    return n;
  }
  if (by_close && cases[fired].is_send) throw channel_closed("weft: channel closed while a send waited");
  return static_cast<std::size_t>(fired);
}

}  // namespace

}  // namespace weft::sync

namespace weft::detail {

std::size_t select_cases(SelectCase* cases, std::uint16_t* scratch, std::size_t n,
                         std::chrono::steady_clock::time_point deadline, bool may_wait) {
  std::uint16_t* poll_order = scratch;
  std::uint16_t* lock_order = scratch + n;
  if (n == 1) {  // nothing to shuffle or sort (and no random draw)
    poll_order[0] = lock_order[0] = 0;
  } else {
    sync::shuffle_poll_order(poll_order, n);
    sync::sort_lock_order(cases, lock_order, n);
  }
  sync::ChannelLocks locks(cases, lock_order, n);
  return sync::select_locked(cases, poll_order, locks, n, deadline, may_wait);
}

bool select_one_locked(SelectCase& c, std::chrono::steady_clock::time_point deadline, bool may_wait) {
  const std::uint16_t order[1] = {0};  // both the poll and the lock order
  sync::ChannelLocks locks(&c, order, 1, std::adopt_lock);
  return sync::select_locked(&c, order, locks, 1, deadline, may_wait) == 0;
}

}  // namespace weft::detail
