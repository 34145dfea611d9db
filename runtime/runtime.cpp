#include "runtime.hpp"

#include "fork.hpp"
#include "stack_overflow.hpp"
#include "stack_pool.hpp"
#include "tsan_annotations.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

namespace weft::shim {
extern const void* const interposed[];  // shims/exports.cpp
}

namespace weft::rt {

namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr std::size_t kDefaultStack = 128 * 1024;
constexpr std::size_t kMinStack = kMinStackSize;
constexpr std::size_t kMaxStack = kMaxStackSize;
constexpr unsigned kDefaultBlocking = 64;
constexpr unsigned kDefaultBlockingQueue = 4096;
constexpr unsigned kMaxBlockingQueue = 1u << 24;
constexpr unsigned kMaxProcessWorkers = 1024;
constexpr unsigned kMaxBlockingWarnMs = 3'600'000;
// Lookups in flight at once on the resolver's pool (runtime/resolver.hpp). Most answer in
// microseconds from /etc/hosts or a cache; an unreachable server holds a thread for the
// resolver's timeouts (seconds), so enough to keep a burst of such moving, few enough to
// stay a small pool. More lookups queue, and beyond the queue their fibers wait for room.
constexpr unsigned kResolverThreads = 16;
constexpr unsigned kResolverQueue = 4096;

std::mutex start_lock;
Config configured;                      // guarded by start_lock
std::atomic<Runtime*> running{nullptr};  // set once; cleared only in a forked child

// The number in a WEFT_* variable, or `fallback` when it is unset or empty.
unsigned long long env_number(const char* name, unsigned long long fallback,
                              unsigned long long lo, unsigned long long hi) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || text[0] == '-' || v < lo || v > hi) {
    throw std::invalid_argument(std::string(name) + "='" + text + "': expected a whole number from " +
                                std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v;
}

void validate(const Config& c) {
  if (c.threads > kMaxThreads) {
    throw std::invalid_argument("weft::configure: threads must be at most " +
                                std::to_string(kMaxThreads));
  }
  if (c.stack_size != 0 && (c.stack_size < kMinStack || c.stack_size > kMaxStack)) {
    throw std::invalid_argument("weft::configure: stack_size must be between 16 KiB and 1 GiB");
  }
  if (c.blocking_threads > 100000) {
    throw std::invalid_argument("weft::configure: blocking_threads must be at most 100000");
  }
  if (c.blocking_queue > kMaxBlockingQueue) {
    throw std::invalid_argument("weft::configure: blocking_queue must be at most " +
                                std::to_string(kMaxBlockingQueue));
  }
  if (c.process_workers > kMaxProcessWorkers) {
    throw std::invalid_argument("weft::configure: process_workers must be at most " +
                                std::to_string(kMaxProcessWorkers));
  }
  if (c.blocking_warn_ms > kMaxBlockingWarnMs) {
    throw std::invalid_argument("weft::configure: blocking_warn_ms must be at most " +
                                std::to_string(kMaxBlockingWarnMs) + " (an hour)");
  }
  if (c.dump_signal != 0) {
    try {
      check_dump_signal(c.dump_signal);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("weft::configure: ") + e.what());
    }
  }
}

// How long a spawn_blocking thread stays idle before it retires. Not in Config: only
// tests want another value (WEFT_BLOCKING_IDLE_MS), to watch threads retire in a test's
// time; an hour at most.
std::chrono::milliseconds blocking_idle_retire() {
  constexpr unsigned long long kDefaultMs = 10'000;
  return std::chrono::milliseconds(env_number("WEFT_BLOCKING_IDLE_MS", kDefaultMs, 1, 3'600'000));
}

// Fills every 0 in c from the environment or the defaults.
Config resolve(Config c) {
  if (c.threads == 0) {
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    c.threads = static_cast<unsigned>(env_number("WEFT_THREADS", cpus, 1, kMaxThreads));
  }
  if (c.stack_size == 0) {
    c.stack_size = env_number("WEFT_STACK_SIZE", kDefaultStack, kMinStack, kMaxStack);
  }
  if (c.blocking_threads == 0) {
    c.blocking_threads =
        static_cast<unsigned>(env_number("WEFT_BLOCKING_THREADS", kDefaultBlocking, 1, 100000));
  }
  if (c.blocking_queue == 0) {
    c.blocking_queue = static_cast<unsigned>(
        env_number("WEFT_BLOCKING_QUEUE", kDefaultBlockingQueue, 1, kMaxBlockingQueue));
  }
  if (c.hook_locks == Toggle::from_environment) {
    c.hook_locks = env_number("WEFT_HOOK_LOCKS", 1, 0, 1) == 1 ? Toggle::on : Toggle::off;
  }
  if (c.blocking_warn_ms == 0) {
    c.blocking_warn_ms = static_cast<unsigned>(env_number("WEFT_BLOCKING_WARN_MS", 0, 0, kMaxBlockingWarnMs));
  }
  if (c.dump_signal == 0) {
    const char* text = std::getenv("WEFT_DUMP_SIGNAL");
    if (text != nullptr && *text != '\0') c.dump_signal = parse_dump_signal(text);
  }
  if (c.process_workers == 0) {
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    c.process_workers = static_cast<unsigned>(
        env_number("WEFT_PROCESS_WORKERS", cpus, 1, kMaxProcessWorkers));
  }
  return c;
}

}  // namespace

std::atomic<unsigned char> lock_hooks{kLockHooksUnknown};

bool lock_hooks_on_slow() noexcept {
  // Before the runtime reads its configuration (a lock taken by a static constructor): the
  // environment, with a bad value taken as the default here; the runtime's start reports it.
  const char* text = std::getenv("WEFT_HOOK_LOCKS");
  const bool on = text == nullptr || std::strcmp(text, "0") != 0;
  unsigned char expected = kLockHooksUnknown;
  (void)lock_hooks.compare_exchange_strong(expected, on ? kLockHooksOn : kLockHooksOff, std::memory_order_relaxed);
  return lock_hooks.load(std::memory_order_relaxed) == kLockHooksOn;
}

Runtime& Runtime::get() {
  if (Runtime* r = running.load(std::memory_order_acquire)) return *r;
  std::lock_guard lk(start_lock);
  if (Runtime* r = running.load(std::memory_order_acquire)) return *r;
  // Leaked on purpose: workers keep running while static destructors run at exit.
  const Config resolved = resolve(configured);
  // Before the workers, which each add an alternate signal stack for it.
  if (env_number("WEFT_NO_SEGV_HANDLER", 0, 0, 1) == 0) install_overflow_handler();
  lock_hooks.store(resolved.hook_locks == Toggle::on ? kLockHooksOn : kLockHooksOff, std::memory_order_relaxed);
  auto* r = new Runtime(resolved);
  running.store(r, std::memory_order_release);
  return *r;
}

Runtime* Runtime::if_started() noexcept { return running.load(std::memory_order_acquire); }

void forget_runtime_in_child() noexcept {
  new (&start_lock) std::mutex;  // a thread of the parent may have held it
  forget_dump_signal_in_child();
  Runtime* parents = running.exchange(nullptr, std::memory_order_acq_rel);
  if (parents == nullptr) return;
  // The next runtime starts as the parent's did, whatever the environment says now.
  configured = parents->config();
  // Leaked, like any runtime, with its reactors' descriptors (close-on-exec): closing them
  // would free their numbers for reuse while copies of the parent's fibers, reachable
  // from states made before the fork, still name them for wake-ups.
}

Runtime::Runtime(const Config& resolved)
    : config_(resolved),
      blocking_(resolved.blocking_threads, resolved.blocking_queue, blocking_idle_retire()),
      resolver_(kResolverThreads, kResolverQueue, blocking_idle_retire()) {
  register_fork_handlers();
  tsan::start_symbolizer();
  // Pulls shims/exports.cpp, and with it every shim, into a static link.
  [[maybe_unused]] const void* const volatile keep = shim::interposed;
  set_stack_size(config_.stack_size);
  workers_.reserve(config_.threads);
  for (unsigned i = 0; i < config_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
  }
  for (auto& w : workers_) w->start();
  if (config_.blocking_warn_ms > 0) {
    monitor_ = std::make_unique<Monitor>(*this, std::chrono::milliseconds(config_.blocking_warn_ms));
  }
  if (config_.dump_signal != 0) dump_signal_ = std::make_unique<DumpSignal>(config_.dump_signal);
}

Worker& Runtime::next_worker() noexcept {
  return *workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

boost::fibers::context* Runtime::steal_fresh(Worker& thief) noexcept {
  const std::size_t n = workers_.size();
  for (std::size_t k = 1; k < n; ++k) {
    Worker& victim = *workers_[(thief.index() + k) % n];
    if (victim.fresh_count() == 0) continue;
    if (boost::fibers::context* ctx = victim.pop_fresh(Worker::Take::oldest)) return ctx;
  }
  return nullptr;
}

void Runtime::wake_a_thief(Worker& from) noexcept {
  if (asleep_.load(std::memory_order_relaxed) == 0) return;
  const std::size_t n = workers_.size();
  for (std::size_t k = 1; k < n; ++k) {
    Worker& w = *workers_[(from.index() + k) % n];
    if (w.asleep()) {
      w.wake();
      return;
    }
  }
}

}  // namespace weft::rt

namespace weft {

void configure(const Config& config) {
  rt::validate(config);
  std::lock_guard lk(rt::start_lock);
  if (rt::running.load(std::memory_order_acquire) != nullptr) {
    throw std::logic_error("weft::configure: the runtime has already started; configure it "
                           "before the first spawn, run or spawn_blocking");
  }
  rt::configured = config;
  if (config.hook_locks != Toggle::from_environment) {
    rt::lock_hooks.store(config.hook_locks == Toggle::on ? rt::kLockHooksOn : rt::kLockHooksOff,
                         std::memory_order_relaxed);
  }
}

Config current_config() {
  if (rt::Runtime* r = rt::running.load(std::memory_order_acquire)) return r->config();
  std::lock_guard lk(rt::start_lock);
  return rt::resolve(rt::configured);
}

}  // namespace weft
