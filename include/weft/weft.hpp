// weft: stackful green threads for C++20 in the gevent style. One include for all of it.
#pragma once

#include <weft/cancel.hpp>
#include <weft/channel.hpp>
#include <weft/config.hpp>
#include <weft/dump.hpp>
#include <weft/errors.hpp>
#include <weft/fibers.hpp>
#include <weft/group.hpp>
#include <weft/monitor.hpp>
#include <weft/process.hpp>
#include <weft/promise.hpp>
#include <weft/spawn.hpp>
#include <weft/stats.hpp>
#include <weft/sync.hpp>
#include <weft/this_fiber.hpp>
#include <weft/unfuture.hpp>
#include <weft/when.hpp>
