// fiber_records: fibers on every worker start, leave the CPU by every way (weft's yield,
// Boost's own yield, a park on an Unfuture, a sleep, not at all) and end, while plain
// threads and fibers walk every worker's records with list_fibers(). Records are listed
// lazily, on a fiber's first switch-out (runtime/fiber_record.hpp), so this is where a
// walker meets records being listed, unlisted and retired under it.
// Checks: every listed record is whole (a nonzero id, a real worker, a name that is one of
// this iteration's or none: a torn or dead record shows garbage here, and ASan sees a
// read of a dead frame); a fiber keeps its id across switches; a fiber parked on a
// promise is eventually listed as parked on an Unfuture; and once every fiber has been
// joined, none of this iteration's names is listed any more (within kBound, since a
// record retires just after its result is published).
#include "stress.hpp"

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <set>
#include <string>

namespace stress {
namespace {

struct Shared {
  std::string prefix;  // names of this iteration's fibers start with it
  unsigned workers;
  std::atomic<bool> stop{false};
};

void check_listing(const Shared& s) {
  for (const weft::FiberInfo& f : weft::list_fibers()) {
    STRESS_CHECK(f.id != 0, "a listed fiber has id 0 (name '" << f.name << "')");
    STRESS_CHECK(f.worker < s.workers, "a listed fiber runs on worker " << f.worker << " of " << s.workers);
    STRESS_CHECK(f.name.empty() || f.name.rfind("rec-", 0) == 0,
                 "a listed fiber has a name no fiber was given: '" << f.name << "'");
  }
}

void walker(const Shared& s) {
  while (!s.stop.load(std::memory_order_relaxed)) {
    check_listing(s);
    if (weft::in_fiber()) {
      weft::this_fiber::yield();
    } else {
      std::this_thread::yield();
    }
  }
}

// One fiber's life: a few switch-outs of random kinds, its id checked across each.
void live(std::uint64_t seed, const Shared& s, const weft::Unfuture<void>& gate) {
  Rng r(seed);
  const std::uint64_t id = weft::this_fiber::id();
  STRESS_CHECK(id != 0, "a fiber's own id is 0");
  for (int ops = r.between(0, 4); ops > 0; --ops) {
    switch (r.below(5)) {
      case 0: weft::this_fiber::yield(); break;
      case 1: boost::this_fiber::yield(); break;
      case 2: weft::sleep_for(std::chrono::microseconds(r.below(300))); break;
      case 3: gate.wait(); break;
      default: check_listing(s); break;
    }
    STRESS_CHECK(weft::this_fiber::id() == id, "a fiber's id changed across a switch: " << id << " -> "
                                                                                     << weft::this_fiber::id());
  }
}

bool none_listed(const std::string& prefix) {
  for (const weft::FiberInfo& f : weft::list_fibers()) {
    if (f.name.rfind(prefix, 0) == 0) return false;
  }
  return true;
}

void fiber_records(Context& ctx) {
  Shared s;
  s.prefix = "rec-" + std::to_string(ctx.seed % 100000) + "-";
  s.workers = ctx.threads;
  weft::Promise<void> open;
  const auto gate = open.get_unfuture();

  std::vector<PlainThread> walkers;
  for (int i = ctx.rng.between(1, 2); i > 0; --i) walkers.emplace_back([&s] { walker(s); });
  auto fiber_walker = weft::spawn([&s] { walker(s); });

  // A fiber parked on the gate for the whole run: it must show as parked on an Unfuture.
  auto waiter = weft::spawn(weft::FiberOptions{s.prefix + "waiter"}, [&gate] { gate.wait(); });

  const int fibers = ctx.rng.between(10, 200);
  std::vector<weft::Unfuture<void>> fs;
  for (int i = 0; i < fibers; ++i) {
    weft::FiberOptions named{ctx.rng.chance(1, 2) ? s.prefix + std::to_string(i) : std::string()};
    fs.push_back(weft::spawn(named, [seed = ctx.rng.next(), &s, &gate] { live(seed, s, gate); }));
    if (ctx.rng.chance(1, 8)) jitter(ctx.rng);
  }

  bool seen_parked = false;
  const auto give_up = Clock::now() + kBound;
  while (!seen_parked && Clock::now() < give_up) {
    for (const weft::FiberInfo& f : weft::list_fibers()) {
      if (f.name == s.prefix + "waiter" && f.state == weft::FiberState::parked && f.wait == weft::WaitKind::unfuture) {
        seen_parked = true;
      }
    }
    if (!seen_parked) std::this_thread::sleep_for(1ms);
  }
  STRESS_CHECK(seen_parked, "a fiber parked on a promise was never listed as parked on an Unfuture");

  open.set_value();
  STRESS_AWAIT(waiter, "the gate's waiter");
  for (auto& f : fs) STRESS_AWAIT(f, "a fiber switching out and ending");
  s.stop.store(true);
  STRESS_AWAIT(fiber_walker, "the walking fiber");
  for (auto& w : walkers) w.join();

  const auto gone_by = Clock::now() + kBound;
  while (!none_listed(s.prefix) && Clock::now() < gone_by) std::this_thread::sleep_for(1ms);
  STRESS_CHECK(none_listed(s.prefix), "fibers that ended are still listed");
}

const Registered reg{{"fiber_records",
                      "fibers switching out every way and ending while threads and fibers list them",
                      fiber_records}};

}  // namespace
}  // namespace stress
