// Channels and select, as in Go: typed queues that fibers (on any worker) and plain threads
// pass values through, waiting when there is nothing to take or no room.
//
//   weft::Channel<int> jobs(64);      // capacity 64; Channel<int> c; is unbuffered
//   weft::spawn([jobs] { for (int j : jobs) work(j); });   // until closed and drained
//   jobs.send(1);                     // parks (or blocks a plain thread) while full
//   jobs.close();
//
// A Channel is a handle, like Go's chan: copies refer to the same channel, so pass it to
// fibers and threads by value. As with a shared_ptr, a const handle still sends and
// receives (a lambda's by-value capture is const). The channel lives while a handle does. T may be move-only;
// its move constructor must not throw (values are moved while the channel is locked).
//
// Semantics (Go's):
//   - capacity 0: a send completes only when a receiver takes the value (rendezvous);
//     capacity n: up to n values wait in a FIFO buffer.
//   - close(): no more sends. Receivers still get every value sent before it, then
//     nothing: receive() returns std::nullopt once the channel is closed and drained.
//     Senders parked at that moment wake and throw weft::channel_closed, as does any later
//     send, and a second close().
//   - Waiting parks only the calling fiber (a plain thread blocks only itself); whoever
//     completes the wait wakes it, from any worker or thread. Values go in FIFO order, and
//     parked operations are served oldest first.
//
// select() runs exactly one of several cases, choosing uniformly at random among those
// ready, as Go's select does:
//
//   std::size_t fired = weft::select(
//       weft::receive_case(results, [&](std::optional<int> v) { ... }),  // nullopt: closed
//       weft::send_case(requests, next, [&] { ... }),                     // handler optional
//       weft::timeout_case(50ms, [&] { ... }));                           // or default_case
//
// It waits until a case can run (or the timeout passes), runs it, calls that case's handler
// and returns the case's position in the argument list. A timeout_case (a duration, a time
// point or a weft::Deadline) bounds the wait; a default_case makes select not wait at all
// and runs when no other case is ready; at most one of the two. A receive case on a closed
// channel is ready and gets std::nullopt. A send case on a closed channel, if chosen, makes
// select throw channel_closed. A send case's value is moved into the case when the case is
// made and is gone if another case runs.
#pragma once

#include <weft/deadline.hpp>
#include <weft/detail/channel_core.hpp>
#include <weft/detail/deadline.hpp>
#include <weft/errors.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

// Why a receive that may give up has no value.
enum class ReceiveStatus : std::uint8_t {
  received,   // `value` holds it
  closed,     // the channel is closed and drained: no value will ever come
  empty,      // try_receive: nothing could be taken without waiting
  timed_out,  // receive_for/until: nothing came before the deadline
};

template <class T>
struct Received {
  ReceiveStatus status = ReceiveStatus::empty;
  std::optional<T> value;  // set exactly when status == received
  explicit operator bool() const noexcept { return status == ReceiveStatus::received; }
};

namespace detail {

template <class T>
class ChannelState final : public ChannelCore {
 public:
  explicit ChannelState(std::size_t slots)
      : ChannelCore(slots), buffer_(slots > 0 ? std::allocator<T>().allocate(slots) : nullptr) {}
  ~ChannelState() override {
    for (std::size_t i = 0; i < count; ++i) std::destroy_at(buffer_ + (head + i) % capacity);
    if (buffer_ != nullptr) std::allocator<T>().deallocate(buffer_, capacity);
  }

  void hand_over(void* value, void* into) noexcept override {
    static_cast<std::optional<T>*>(into)->emplace(std::move(*static_cast<T*>(value)));
  }
  void store(std::size_t slot, void* value) noexcept override {
    std::construct_at(buffer_ + slot, std::move(*static_cast<T*>(value)));
  }
  void take(std::size_t slot, void* into) noexcept override {
    static_cast<std::optional<T>*>(into)->emplace(std::move(buffer_[slot]));
    std::destroy_at(buffer_ + slot);
  }

  // The buffer-only halves of a send and a receive, which most operations on a buffered
  // channel are: done here, without the engine's virtual calls. Each declines, leaving
  // everything as it was, whenever a parked case might be involved (the engine then pairs
  // with it): a receiver parks only on an empty buffer, a sender only on a full one, so
  // with room (or a value) and nobody queued on the other side the buffer is the whole
  // story. Both need `lock`.
  bool store_if_room_locked(T& value) noexcept {
    if (closed || count == capacity || receivers.head != nullptr) return false;
    std::size_t slot = head + count;
    if (slot >= capacity) slot -= capacity;  // no division: this is the whole send
    std::construct_at(buffer_ + slot, std::move(value));
    ++count;
    return true;
  }
  bool take_if_buffered_locked(std::optional<T>& into) noexcept {
    if (count == 0 || senders.head != nullptr) return false;
    into.emplace(std::move(buffer_[head]));
    std::destroy_at(buffer_ + head);
    if (++head == capacity) head = 0;
    --count;
    return true;
  }

 private:
  T* buffer_;
};

// One send or receive with an optional deadline: a select of one case, after the buffer
// alone has been tried under the same hold of the lock. Returns whether it ran.
template <class T>
bool run_one(ChannelState<T>& ch, void* slot, bool is_send, std::chrono::steady_clock::time_point deadline,
             bool may_wait) {
  lock_wait(ch.lock);
  if (is_send ? ch.store_if_room_locked(*static_cast<T*>(slot))
              : ch.take_if_buffered_locked(*static_cast<std::optional<T>*>(slot))) {
    unlock_wait(ch.lock);
    return true;
  }
  SelectCase c;
  c.channel = &ch;
  c.slot = slot;
  c.is_send = is_send;
  return select_one_locked(c, deadline, may_wait);
}

inline constexpr auto no_deadline = std::chrono::steady_clock::time_point::max();

struct NoHandler {
  template <class... Args>
  void operator()(Args&&...) const noexcept {}
};

}  // namespace detail

template <class T, class F>
class ReceiveCase;
template <class T, class F>
class SendCase;

template <class T>
class Channel {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                "weft::Channel<T>: T must be nothrow move constructible and destructible");

 public:
  // A channel with room for `capacity` values (0: unbuffered). Throws
  // std::invalid_argument if negative, std::length_error if no buffer could be that large,
  // std::bad_alloc if this one cannot be had.
  explicit Channel(std::ptrdiff_t capacity = 0)
      : state_(std::make_shared<detail::ChannelState<T>>(detail::checked_capacity(capacity, sizeof(T)))) {}
  // Copies (and moves, which copy) refer to the same channel.
  Channel(const Channel&) = default;
  Channel& operator=(const Channel&) = default;

  std::size_t capacity() const noexcept { return state_->capacity; }
  // How many values wait in the buffer now (a snapshot).
  std::size_t size() const noexcept { return detail::buffered_count(*state_); }
  // Whether close() has been called. Values sent before may still wait to be received.
  bool closed() const noexcept { return detail::is_closed(*state_); }

  // Waits until a receiver takes `value` or the buffer has room for it. Throws
  // channel_closed if the channel is closed, or closes while this waits.
  void send(T value) const { (void)detail::run_one(*state_, &value, true, detail::no_deadline, true); }

  // The forms that may give up return false if they did, leaving `value` as it was
  // (try_send: no receiver waiting and no room; send_for/until: none before the deadline).
  // All throw channel_closed as send() does.
  bool try_send(T&& value) const { return detail::run_one(*state_, &value, true, detail::no_deadline, false); }
  bool try_send(const T& value) const
    requires std::copy_constructible<T>
  {
    T copy(value);
    return try_send(std::move(copy));
  }
  template <class Rep, class Period>
  bool send_for(T&& value, std::chrono::duration<Rep, Period> timeout) const {
    return send_until_steady(std::move(value), detail::deadline_after(timeout, "weft::Channel::send_for"));
  }
  template <class Clock, class Duration>
  bool send_until(T&& value, std::chrono::time_point<Clock, Duration> deadline) const {
    return send_until_steady(std::move(value), detail::to_steady(deadline, "weft::Channel::send_until"));
  }
  template <class Rep, class Period>
  bool send_for(const T& value, std::chrono::duration<Rep, Period> timeout) const
    requires std::copy_constructible<T>
  {
    return send_for(T(value), timeout);
  }
  template <class Clock, class Duration>
  bool send_until(const T& value, std::chrono::time_point<Clock, Duration> deadline) const
    requires std::copy_constructible<T>
  {
    return send_until(T(value), deadline);
  }

  // The next value; std::nullopt once the channel is closed and every value sent before
  // has been received. Never throws.
  std::optional<T> receive() const {
    std::optional<T> got;
    (void)detail::run_one(*state_, &got, false, detail::no_deadline, true);
    return got;
  }

  // The forms that may give up say why there is no value: closed (and drained), or
  // empty (try_receive: nothing to take without waiting) / timed_out (receive_for/until).
  Received<T> try_receive() const { return receive_until_steady(detail::no_deadline, false); }
  template <class Rep, class Period>
  Received<T> receive_for(std::chrono::duration<Rep, Period> timeout) const {
    return receive_until_steady(detail::deadline_after(timeout, "weft::Channel::receive_for"), true);
  }
  template <class Clock, class Duration>
  Received<T> receive_until(std::chrono::time_point<Clock, Duration> deadline) const {
    return receive_until_steady(detail::to_steady(deadline, "weft::Channel::receive_until"), true);
  }

  // See the top of this file. Throws channel_closed if already closed.
  void close() const { detail::close_channel(*state_); }

  // for (T v : ch): receives until the channel is closed and drained.
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(const Channel& ch) : channel_(&ch), current_(ch.receive()) {}
    // Moves the current value out: read it once per step.
    T operator*() { return std::move(*current_); }
    iterator& operator++() {
      current_ = channel_->receive();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.current_; }

   private:
    const Channel* channel_ = nullptr;
    std::optional<T> current_;
  };
  iterator begin() const { return iterator(*this); }
  std::default_sentinel_t end() const noexcept { return {}; }

  // Whether two handles refer to the same channel.
  friend bool operator==(const Channel& a, const Channel& b) noexcept { return a.state_ == b.state_; }

 private:
  template <class U, class F>
  friend class ReceiveCase;
  template <class U, class F>
  friend class SendCase;
  detail::ChannelCore& core() const noexcept { return *state_; }

  bool send_until_steady(T&& value, std::chrono::steady_clock::time_point deadline) const {
    return detail::run_one(*state_, &value, true, deadline, true);
  }
  Received<T> receive_until_steady(std::chrono::steady_clock::time_point deadline, bool may_wait) const {
    Received<T> r;
    if (!detail::run_one(*state_, &r.value, false, deadline, may_wait)) {
      r.status = may_wait ? ReceiveStatus::timed_out : ReceiveStatus::empty;
    } else {
      r.status = r.value ? ReceiveStatus::received : ReceiveStatus::closed;
    }
    return r;
  }

  // Never null: copies share it, and a moved-from handle keeps it too (Channel has no
  // move constructor of its own), so every handle always refers to a channel.
  std::shared_ptr<detail::ChannelState<T>> state_;
};

// ---- select ----------------------------------------------------------------------------
// The case types are made by receive_case, send_case, timeout_case and default_case below,
// and live only as select()'s arguments.

template <class T, class F>
class ReceiveCase {
 public:
  static constexpr bool on_channel = true;
  ReceiveCase(const Channel<T>& ch, F on_value) : channel_(ch.core()), on_value_(std::move(on_value)) {}
  void describe(detail::SelectCase& c) noexcept {
    got_.reset();  // a case passed to select() again must not hand on the last value
    c.channel = &channel_;
    c.slot = &got_;
  }
  void fire() { on_value_(std::move(got_)); }

 private:
  detail::ChannelCore& channel_;
  F on_value_;
  std::optional<T> got_;
};

template <class T, class F>
class SendCase {
 public:
  static constexpr bool on_channel = true;
  SendCase(const Channel<T>& ch, T value, F on_sent)
      : channel_(ch.core()), value_(std::move(value)), on_sent_(std::move(on_sent)) {}
  void describe(detail::SelectCase& c) noexcept {
    c.channel = &channel_;
    c.slot = &value_;
    c.is_send = true;
  }
  void fire() { on_sent_(); }

 private:
  detail::ChannelCore& channel_;
  T value_;
  F on_sent_;
};

// A timeout or default case: `may_wait` false for a default case.
template <class F>
class OtherwiseCase {
 public:
  static constexpr bool on_channel = false;
  OtherwiseCase(std::chrono::steady_clock::time_point deadline, bool may_wait, F f)
      : deadline_(deadline), may_wait_(may_wait), f_(std::move(f)) {}
  void describe(std::chrono::steady_clock::time_point& deadline, bool& may_wait) const noexcept {
    deadline = deadline_;
    may_wait = may_wait_;
  }
  void fire() { f_(); }

 private:
  std::chrono::steady_clock::time_point deadline_;
  bool may_wait_;
  F f_;
};

// Runs on_value(std::optional<T>) with the value received (std::nullopt: closed).
template <class T, class F = detail::NoHandler>
ReceiveCase<T, F> receive_case(const Channel<T>& ch, F on_value = {}) {
  return ReceiveCase<T, F>(ch, std::move(on_value));
}
// Sends `value`, then runs on_sent().
template <class T, class F = detail::NoHandler>
SendCase<T, F> send_case(const Channel<T>& ch, std::type_identity_t<T> value, F on_sent = {}) {
  return SendCase<T, F>(ch, std::move(value), std::move(on_sent));
}
// Runs on_timeout() if no other case could run before `deadline` (Deadline::none(): never).
template <class F = detail::NoHandler>
OtherwiseCase<F> timeout_case(Deadline deadline, F on_timeout = {}) {
  return OtherwiseCase<F>(deadline.time(), true, std::move(on_timeout));
}
// Runs otherwise() at once if no other case is ready.
template <class F = detail::NoHandler>
OtherwiseCase<F> default_case(F otherwise = {}) {
  return OtherwiseCase<F>(detail::no_deadline, false, std::move(otherwise));
}

// See the top of this file. Returns the position of the case that ran.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n = (std::size_t{std::remove_cvref_t<Cases>::on_channel} + ... + 0);
  static_assert(sizeof...(Cases) - n <= 1, "weft::select: at most one timeout_case or default_case");
  static_assert(n < 0x8000, "weft::select: too many cases");
  std::array<detail::SelectCase, n> raw{};
  std::array<std::uint16_t, 2 * n> scratch{};
  auto deadline = detail::no_deadline;
  bool may_wait = true;
  std::size_t next = 0;
  auto describe = [&](auto& c) {
    if constexpr (std::remove_cvref_t<decltype(c)>::on_channel) {
      c.describe(raw[next++]);
    } else {
      c.describe(deadline, may_wait);
    }
  };
  (describe(cases), ...);

  const std::size_t ran = detail::select_cases(raw.data(), scratch.data(), n, deadline, may_wait);
  std::size_t position = 0, on_channel = 0, fired = 0;
  auto fire_if_ran = [&](auto& c) {
    if constexpr (std::remove_cvref_t<decltype(c)>::on_channel) {
      if (on_channel++ == ran) {
        fired = position;
        c.fire();
      }
    } else if (ran == n) {
      fired = position;
      c.fire();
    }
    ++position;
  };
  (fire_if_ran(cases), ...);
  return fired;
}

}  // namespace weft
