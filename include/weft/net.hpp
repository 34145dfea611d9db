// weft::net: sockets whose blocking calls suspend only the calling fiber, and serve().
#pragma once

#include <weft/deadline.hpp>
#include <weft/net/address.hpp>
#include <weft/net/errors.hpp>
#include <weft/net/serve.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/udp.hpp>
#include <weft/net/unix.hpp>
