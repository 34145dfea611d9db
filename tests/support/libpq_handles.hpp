// libpq's connection and result as owning handles, so a failed check cannot leak them.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace weft_test {

struct ConnFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnFinish>;
using Result = std::unique_ptr<PGresult, ResultClear>;

}  // namespace weft_test
