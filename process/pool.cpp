#include "pool.hpp"

#include "code_address.hpp"
#include "wire.hpp"

#include "fork.hpp"
#include "runtime.hpp"
#include "stats_sources.hpp"

#include <weft/errors.hpp>
#include <weft/net/errors.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>

namespace weft::rt::process {

namespace {

using Clock = std::chrono::steady_clock;

// Generous: a worker runs the program's static constructors before it is ready, and under
// the sanitizers a big test program takes a while to start.
constexpr auto kReadyWithin = std::chrono::seconds(60);
// A worker that closed its channel is given this long to finish exiting before it is killed,
// so that its own exit status or signal is what gets reported.
constexpr auto kExitGrace = std::chrono::milliseconds(2000);
// Batching pays when a task takes less than a round trip to the worker and back.
constexpr std::int64_t kBatchBelowNs = 100'000;
// A task whose worker died before it had all of it is tried on a new worker this often.
constexpr int kMaxAttempts = 2;

void fail(Job& job, std::exception_ptr e) noexcept {
  try {
    job.state->set_exception(std::move(e));
  } catch (...) {  // already completed (e.g. cancelled): nothing to tell
  }
}

template <class E>
void fail(Job& job, E error) noexcept {
  fail(job, std::make_exception_ptr(std::move(error)));
}

void complete(Job& job, FrameKind kind, const std::string& body) {
  InArchive in(body);
  switch (kind) {
    case FrameKind::value:
      try {
        job.deliver(*job.state, in);
      } catch (...) {
        fail(job, std::current_exception());
      }
      return;
    case FrameKind::exception: {
      std::string type, message;
      in(type, message);
      fail(job, remote_error(std::move(type), std::move(message)));
      return;
    }
    case FrameKind::unavailable: {
      std::string why;
      in(why);
      fail(job, process_error(process_errc::unavailable,
                              "weft::spawn_process: the worker process cannot run the function: " + why));
      return;
    }
    default:
      throw std::system_error(EPROTO, std::generic_category(), "weft: bad reply from a worker process");
  }
}

void send(WorkerProcess& w, std::vector<Job>& batch, Deadline deadline) {
  if (batch.size() == 1 && batch[0].payload.size() > kBatchTailBytes) {
    w.write_all(batch[0].head, deadline);
    w.write_all(batch[0].payload, deadline);
    return;
  }
  std::string all;
  for (const Job& j : batch) {
    all += j.head;
    all += j.payload;
  }
  w.write_all(all, deadline);
}

[[noreturn]] void broken_conversation(const char* what) {
  throw std::system_error(EPROTO, std::generic_category(), what);
}

// Reads the reply to `job`: its header (returned) and its body. Frames written by another
// process than the worker (one that a task forked and that wrote to the inherited channel
// anyway) are read and dropped.
FrameHeader read_reply(WorkerProcess& w, const Job& job, std::string& body, Deadline until) {
  for (;;) {
    FrameHeader h;
    w.read_exact(&h, sizeof h, until);
    if (h.magic != kFrameMagic) broken_conversation("weft: garbled reply from a worker process");
    body.assign(h.size, '\0');
    w.read_exact(body.data(), body.size(), until);
    if (h.sender != w.pid()) continue;
    if (h.task != job.id) broken_conversation("weft: a worker process replied out of turn");
    return h;
  }
}

}  // namespace

namespace {
// Leaked like the runtime: drivers may still run while static destructors do.
std::atomic<Pool*> the_pool{nullptr};
std::mutex making_pool;  // constant-initialized, so a fork handler may remake it
}  // namespace

Pool& Pool::get() {
  if (Pool* p = the_pool.load(std::memory_order_acquire)) return *p;
  std::lock_guard lk(making_pool);
  if (Pool* p = the_pool.load(std::memory_order_acquire)) return *p;
  auto* p = new Pool(Runtime::get().config().process_workers);
  the_pool.store(p, std::memory_order_release);
  // Registered with the first pool: a program that never calls spawn_process pays
  // nothing, and its stats() shows an empty pool.
  set_process_stats_source([](ProcessPoolStats& out) {
    if (Pool* pool = the_pool.load(std::memory_order_acquire)) out = pool->load();
  });
  return *p;
}

void Pool::forget_in_child() noexcept {
  new (&making_pool) std::mutex;
  the_pool.store(nullptr, std::memory_order_release);
}

namespace {
[[maybe_unused]] const bool fork_handled = [] {
  add_fork_participant({nullptr, nullptr, Pool::forget_in_child});
  return true;
}();
}  // namespace

Pool::Pool(unsigned slots) : slots_(slots) {}

void Pool::submit(Job job) {
  std::unique_lock lk(lock_);
  queue_.push_back(std::move(job));
  // An idle slot, one whose process is already up if there is such.
  int pick = -1;
  for (unsigned i = 0; i < slots_.size(); ++i) {
    if (slots_[i].driving) continue;
    if (pick < 0 || (slots_[i].process && !slots_[pick].process)) pick = static_cast<int>(i);
  }
  if (pick < 0) return;  // every slot has a driver, which will come to this job
  slots_[pick].driving = true;
  ++driving_;
  lk.unlock();
  place_fiber(detail::make_task([this, pick] { drive(static_cast<unsigned>(pick)); }), Placement::here());
}

ProcessPoolStats Pool::load() {
  ProcessPoolStats s;
  s.slots = static_cast<unsigned>(slots_.size());
  // Under the lock take_batch moves tasks under, so that a task is seen either queued or
  // in a slot's hands, never in neither.
  std::lock_guard lk(lock_);
  s.queued = queue_.size();
  for (const Slot& slot : slots_) {
    if (slot.up.load(std::memory_order_relaxed)) ++s.workers;
    if (const unsigned n = slot.unanswered.load(std::memory_order_relaxed); n > 0) {
      ++s.running;
      s.queued += n - 1;  // behind the running one, in the worker's channel
    }
  }
  return s;
}

void Pool::drive(unsigned slot) {
  for (;;) {
    std::vector<Job> batch = take_batch(slot);
    if (batch.empty()) return;
    run_batch(slots_[slot], batch);
  }
}

std::vector<Job> Pool::take_batch(unsigned slot) {
  std::vector<Job> batch;
  std::vector<Job> cancelled;  // released after the lock: a last reference may go with them
  std::lock_guard lk(lock_);
  if (queue_.empty()) {
    slots_[slot].driving = false;
    --driving_;
    return batch;
  }
  const std::int64_t per_task = task_ns_.load(std::memory_order_relaxed);
  std::size_t limit = 1;
  if (per_task != 0 && per_task < kBatchBelowNs) {
    const std::size_t share = (queue_.size() + driving_ - 1) / driving_;
    limit = std::min(share, kMaxBatch);
  }
  std::size_t tail = 0;
  while (batch.size() < limit && !queue_.empty()) {
    Job& next = queue_.front();
    if (!next.claimed && !next.claim_start(*next.state)) {
      cancelled.push_back(std::move(next));  // cancelled while it waited: it never runs
      queue_.pop_front();
      continue;
    }
    next.claimed = true;
    if (!batch.empty()) {
      tail += next.head.size() + next.payload.size();
      if (tail > kBatchTailBytes) break;
    }
    batch.push_back(std::move(next));
    queue_.pop_front();
  }
  if (batch.empty()) {  // only cancelled tasks were left
    slots_[slot].driving = false;
    --driving_;
  }
  slots_[slot].unanswered.store(static_cast<unsigned>(batch.size()), std::memory_order_relaxed);
  return batch;
}

void Pool::put_back(std::vector<Job>& batch, std::size_t from) {
  std::lock_guard lk(lock_);
  for (std::size_t i = batch.size(); i-- > from;) queue_.push_front(std::move(batch[i]));
}

void Pool::note_task_time(std::chrono::nanoseconds t) noexcept {
  const std::int64_t old = task_ns_.load(std::memory_order_relaxed);
  task_ns_.store(old == 0 ? t.count() : (old * 7 + t.count()) / 8, std::memory_order_relaxed);
}

void Pool::run_batch(Slot& slot, std::vector<Job>& batch) {
  struct ShowEnd {  // for load(), on every way out
    Slot& slot;
    ~ShowEnd() {
      slot.unanswered.store(0, std::memory_order_relaxed);
      slot.up.store(slot.process.has_value(), std::memory_order_relaxed);
    }
  } show_end{slot};
  if (slot.process && slot.process->looks_gone()) {
    slot.process->end(kExitGrace);
    slot.process.reset();
  }
  if (!slot.process) {
    try {
      slot.process.emplace(WorkerProcess::start(Deadline(kReadyWithin)));
    } catch (...) {
      const auto e = std::current_exception();
      for (Job& j : batch) fail(j, e);
      return;
    }
  }
  WorkerProcess& w = *slot.process;
  slot.up.store(true, std::memory_order_relaxed);
  const pid_t pid = w.pid();
  auto started = Clock::now();
  std::size_t k = 0;  // the task in the worker's hands now
  bool sent = false;
  try {
    const Deadline first =
        batch[0].timeout.count() > 0 ? Deadline(started + batch[0].timeout) : Deadline();
    send(w, batch, first);
    sent = true;
    for (; k < batch.size(); ++k) {
      Job& job = batch[k];
      const Deadline until = job.timeout.count() > 0 ? Deadline(started + job.timeout) : Deadline();
      std::string body;
      // cancel() of this task kills the worker from now until its reply is in.
      struct InWorkersHands {
        std::atomic<int>* worker;
        ~InWorkersHands() { worker->store(0, std::memory_order_release); }
      } in_hands{job.worker_of(*job.state)};
      in_hands.worker->store(pid, std::memory_order_release);
      const FrameHeader h = read_reply(w, job, body, until);
      in_hands.worker->store(0, std::memory_order_release);
      const auto now = Clock::now();
      note_task_time(now - started);
      started = now;
      slot.unanswered.store(static_cast<unsigned>(batch.size() - k - 1), std::memory_order_relaxed);
      complete(job, h.kind, body);
    }
    return;
  } catch (const net::timeout_error&) {
    ::kill(pid, SIGKILL);
    w.end(kExitGrace);
    slot.process.reset();
    fail(batch[k], process_error(process_errc::timed_out,
                                 "weft::spawn_process: the task ran longer than its timeout of " +
                                     std::to_string(batch[k].timeout.count()) + " ms; worker process " +
                                     std::to_string(pid) + " was killed"));
  } catch (...) {  // it ended, end of file, a reset, a broken pipe: the worker is gone
    const Ending ending = w.end(kExitGrace);
    slot.process.reset();
    if (!sent && batch[k].attempts + 1 < kMaxAttempts && !batch[k].state->has_result()) {
      // It never had the whole task, so the task never ran: try it on a new worker.
      ++batch[k].attempts;
      put_back(batch, k);
      return;
    }
    const bool by_signal = ending.known && ending.signal != 0;
    fail(batch[k], process_error(by_signal ? process_errc::crashed : process_errc::exited,
                                 "weft::spawn_process: worker process " + std::to_string(pid) + " " +
                                     ending.describe() + " while running the task",
                                 ending.signal, ending.exit_status));
  }
  put_back(batch, k + 1);
}

}  // namespace weft::rt::process

namespace weft::detail {

bool cancel_in_worker(StateBase& state, std::atomic<int>& worker) noexcept {
  const int pid = worker.load(std::memory_order_acquire);
  if (pid <= 0) return false;
  static const std::exception_ptr reason =
      std::make_exception_ptr(cancelled_error("weft: cancelled while a worker process ran it"));
  if (!state.try_set_exception(reason)) return false;
  // Its reply, if it comes, finds the result taken; the pool sees the worker die and
  // starts another for the next task. (The pool clears the pid before it reaps the
  // worker, so only a cancel caught between those two steps could signal a reused pid.)
  ::kill(pid, SIGKILL);
  return true;
}

void launch_process(ProcessRequest request) {
  using namespace rt::process;
  Pool& pool = Pool::get();  // starts the runtime if need be, before anything is queued
  Job job;
  const CodeAddress entry = locate(request.entry);
  const bool has_fn = request.fn != nullptr;
  job.head.append(sizeof(FrameHeader), '\0');
  OutArchive head(job.head);
  head(entry, std::string(request.entry->type_name()), has_fn);
  if (has_fn) head(locate(reinterpret_cast<const void*>(request.fn)));
  static std::atomic<std::uint64_t> last_id{0};
  job.id = last_id.fetch_add(1, std::memory_order_relaxed) + 1;
  const FrameHeader h{kFrameMagic, FrameKind::task,
                      job.head.size() - sizeof(FrameHeader) + request.payload.size(), job.id,
                      /*sender=*/0, 0};
  std::memcpy(job.head.data(), &h, sizeof h);
  job.payload = std::move(request.payload);
  job.timeout = request.timeout;
  job.state = std::move(request.state);
  job.state->set_origin(detail::StateBase::Origin::process_pool);
  job.deliver = request.deliver;
  job.claim_start = request.claim_start;
  job.worker_of = request.worker_of;
  pool.submit(std::move(job));
}

}  // namespace weft::detail
