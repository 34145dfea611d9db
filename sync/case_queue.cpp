#include "case_queue.hpp"

namespace weft::sync {

void enqueue_locked(CaseQueue& q, SelectCase& c) noexcept {
  c.prev = q.tail;
  c.next = nullptr;
  (q.tail != nullptr ? q.tail->next : q.head) = &c;
  q.tail = &c;
  c.queued = true;
}

void dequeue_locked(CaseQueue& q, SelectCase& c) noexcept {
  (c.prev != nullptr ? c.prev->next : q.head) = c.next;
  (c.next != nullptr ? c.next->prev : q.tail) = c.prev;
  c.prev = c.next = nullptr;
  c.queued = false;
}

SelectCase* claim_first_locked(CaseQueue& q) noexcept {
  while (SelectCase* c = q.head) {
    dequeue_locked(q, *c);
    Parker& p = *c->parker;
    detail::lock_wait(p.lock);
    if (p.fired == -1) {
      p.fired = c->index;
      return c;
    }
    // Won through another of its channels, or gave up: its owner unlinks the rest itself,
    // and this one is off the queue already.
    detail::unlock_wait(p.lock);
  }
  return nullptr;
}

void wake_claimed(SelectCase& c) noexcept {
  Parker& p = *c.parker;
  // False only when the owner's timeout fired first: it then finds `fired` set once it
  // has this lock, and takes the value all the same.
  (void)detail::wake_one_on(p.sleeper);
  detail::unlock_wait(p.lock);
}

}  // namespace weft::sync
