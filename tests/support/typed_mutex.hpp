// A pthread mutex of one type (PTHREAD_MUTEX_RECURSIVE, _ERRORCHECK, ...), initialised on
// construction and destroyed with the object: the set-up the lock tests each need.
#pragma once

#include <pthread.h>

namespace weft_test {

struct TypedMutex {
  explicit TypedMutex(int type) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, type);
    pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
  }
  ~TypedMutex() { pthread_mutex_destroy(&m); }
  TypedMutex(const TypedMutex&) = delete;
  TypedMutex& operator=(const TypedMutex&) = delete;
  pthread_mutex_t m;
};

}  // namespace weft_test
