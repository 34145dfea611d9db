// weft::dump (<weft/dump.hpp>): asks every worker for its fibers' stacks (fiber_walk.hpp),
// then names the frames and writes the text off the workers.
#include "fiber_walk.hpp"
#include "runtime.hpp"
#include "stack_trace.hpp"

#include <weft/dump.hpp>
#include <weft/spawn.hpp>
#include <weft/this_fiber.hpp>
#include <weft/unfuture.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::rt {

namespace {

// A worker stops walking for a turn after this much: the issue's bar is 50 ms at most.
constexpr std::chrono::microseconds kWalkSlice{5000};
// The walking fiber's own stack: libunwind's cursor and DWARF parsing need some room.
constexpr std::size_t kWalkerStack = 256 * 1024;
constexpr const char* kWalkerName = "weft-dump";

struct WorkerWalk {
  std::vector<WalkedFiber> fibers;
  bool answered = false;
};

// What w's records say, under their lock, with `problem` in place of each stack; its
// walker, if it started there, is not the program's.
void list_without_stacks(const Worker& w, WorkerWalk& walk, const char* problem) {
  w.records().for_each([&](const FiberRecord& r) {
    if (r.task->name() != nullptr && *r.task->name() == kWalkerName) return;
    WalkedFiber& f = walk.fibers.emplace_back();
    f.info = info_of(r);
    f.task = r.task;
    f.problem = problem;
  });
}

std::vector<WorkerWalk> walk_all(Runtime& runtime, const DumpOptions& options) {
  const unsigned n = runtime.workers();
  std::vector<WorkerWalk> walks(n);
  if (!options.stacks) {
    for (unsigned i = 0; i < n; ++i) {
      list_without_stacks(runtime.worker(i), walks[i], "");
      walks[i].answered = true;
    }
    return walks;
  }
  std::vector<Unfuture<std::vector<WalkedFiber>>> pending;
  for (unsigned i = 0; i < n; ++i) {
    auto task = detail::make_task([] { return walk_fibers_here(kWalkSlice); });
    task->set_name(kWalkerName);
    task->set_stack_size(kWalkerStack);
    place_fiber(task, Placement::spread(i));
    pending.push_back(detail::adopt(std::move(task)));
  }
  const auto deadline = std::chrono::steady_clock::now() + options.worker_timeout;
  for (unsigned i = 0; i < n; ++i) {
    if (pending[i].wait_until(deadline)) {
      walks[i].fibers = pending[i].get();
      walks[i].answered = true;
      continue;
    }
    // Held by one fiber: list what its records say, and drop the walk if it never began.
    pending[i].cancel();
    list_without_stacks(runtime.worker(i), walks[i], "its worker did not answer in time");
  }
  return walks;
}

struct Frame {
  std::string text;
  bool boost = false;  // in Boost.Fiber or Boost.Context: the switching machinery
};

class FrameNames {
 public:
  const Frame& of(void* pc) {
    auto [it, fresh] = names_.try_emplace(pc);
    if (fresh) {
      // A return address names the instruction after the call; one byte back is in it.
      const void* in_call = static_cast<const char*>(pc) - 1;
      it->second.text = describe_code_address(in_call);
      Dl_info info{};
      it->second.boost = ::dladdr(in_call, &info) != 0 && info.dli_fname != nullptr &&
                         (std::strstr(info.dli_fname, "libboost_fiber") != nullptr ||
                          std::strstr(info.dli_fname, "libboost_context") != nullptr);
    }
    return it->second;
  }

 private:
  std::unordered_map<void*, Frame> names_;
};

std::string seconds_text(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

// "fiber 7 'reader' (worker 1)"
void write_fiber_name(std::ostream& out, std::uint64_t id, const std::string& name, unsigned worker) {
  out << "fiber " << id;
  if (!name.empty()) out << " '" << name << "'";
  out << " (worker " << worker << ")";
}

struct Owner {
  std::uint64_t id;
  std::string name;
  unsigned worker;
};

void write_wait(std::ostream& out, const FiberInfo& f, const std::unordered_map<const void*, Owner>& owners,
                std::chrono::steady_clock::time_point now) {
  out << ", " << to_string(f.wait);
  switch (f.wait) {
    case WaitKind::fd_read:
    case WaitKind::fd_write:
      out << " on fd " << f.fd;
      break;
    case WaitKind::fd_set:
      if (f.fd >= 0) out << " (epoll fd " << f.fd << ")";
      break;
    case WaitKind::unfuture:
      if (auto it = owners.find(f.object); it != owners.end()) {
        out << " of ";
        write_fiber_name(out, it->second.id, it->second.name, it->second.worker);
      } else {
        out << " " << f.object;
      }
      break;
    case WaitKind::timer:
      break;
    default:
      out << " " << f.object;
  }
  if (f.deadline) {
    out << (f.wait == WaitKind::timer ? ", due in " : ", times out in ")
        << seconds_text(std::max(std::chrono::nanoseconds(0), *f.deadline - now));
  }
}

std::string format(std::vector<WorkerWalk>& walks, std::chrono::nanoseconds took) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<WalkedFiber*> all;
  std::unordered_map<const void*, Owner> owners;  // task -> the fiber running it
  std::vector<unsigned> silent;
  for (unsigned i = 0; i < walks.size(); ++i) {
    if (!walks[i].answered) silent.push_back(i);
    for (WalkedFiber& f : walks[i].fibers) {
      all.push_back(&f);
      owners.emplace(f.task, Owner{f.info.id, f.info.name, f.info.worker});
    }
  }
  std::sort(all.begin(), all.end(), [](const WalkedFiber* a, const WalkedFiber* b) { return a->info.id < b->info.id; });
  std::ostringstream out;
  out << "weft: dump of " << all.size() << " fibers on " << walks.size() << " workers, taken in "
      << seconds_text(took) << "\n";
  for (unsigned i : silent) {
    out << "  worker " << i << " did not answer: a fiber holds it (see WEFT_BLOCKING_WARN_MS); "
        << "its fibers are listed without stacks\n";
  }
  FrameNames names;
  for (const WalkedFiber* f : all) {
    out << "\n";
    write_fiber_name(out, f->info.id, f->info.name, f->info.worker);
    out << ": " << to_string(f->info.state);
    if (f->info.state == FiberState::parked) {
      out << " for " << seconds_text(std::max(std::chrono::nanoseconds(0), now - f->info.waiting_since));
      write_wait(out, f->info, owners, now);
    }
    out << "\n";
    // Boost's own frames, at both ends, say only that the fiber switched and how it began.
    std::size_t first = 0, last = f->pcs.size();
    while (first < last && names.of(f->pcs[first]).boost) ++first;
    while (last > first && names.of(f->pcs[last - 1]).boost) --last;
    for (std::size_t k = first; k < last; ++k) {
      out << "    #" << (k - first) << " " << names.of(f->pcs[k]).text << "\n";
    }
    if (first == last && !f->problem.empty()) out << "    (no stack: " << f->problem << ")\n";
  }
  return out.str();
}

}  // namespace

}  // namespace weft::rt

namespace weft {

void dump(std::ostream& out, const DumpOptions& options) {
  rt::Runtime* runtime = rt::Runtime::if_started();
  if (runtime == nullptr) {
    out << "weft: dump of 0 fibers: the runtime has not started\n";
    return;
  }
  const auto began = std::chrono::steady_clock::now();
  std::vector<rt::WorkerWalk> walks = rt::walk_all(*runtime, options);
  const auto took = std::chrono::steady_clock::now() - began;
  // Naming thousands of frames is no work for a worker: a fiber hands it to the pool.
  // The pool's copy is its own: a cancel of this fiber ends the wait, not the formatting.
  std::string text = in_fiber() ? spawn_blocking([walks = std::move(walks), took]() mutable {
                                    return rt::format(walks, took);
                                  }).get()
                                 : rt::format(walks, took);
  out << text;
}

}  // namespace weft
