// Figures weft::stats() (stats.cpp) takes from layers above the runtime, which the
// runtime must not include: such a layer registers a function that fills in its part, as
// it registers its fork handlers (fork.hpp). Until one registers, its part reads zero.
#pragma once

#include <weft/stats.hpp>

namespace weft::rt {

// Fills in the spawn_process pool's figures (process/pool.cpp). It may take the pool's
// lock, briefly; it must not park.
using ProcessStatsSource = void (*)(ProcessPoolStats& out);
void set_process_stats_source(ProcessStatsSource source) noexcept;

}  // namespace weft::rt
