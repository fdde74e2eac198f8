// Opening and binding the kernel backend's UDP sockets, and binding a session
// side's RTP/RTCP pair from the port pool (control thread only).
#pragma once

#include <cstdint>
#include <string>

#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/core/port_pool.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::dataplane::kernel {

/// A non-blocking, close-on-exec UDP socket bound to `local`, without
/// SO_REUSEADDR (two sessions must never share a port), with IP_FREEBIND
/// (IPV6_FREEBIND), so `local` need not be an address of this host yet (a
/// virtual address keepalived has not moved here). On failure `fd` is
/// empty and `error` holds the errno.
struct bind_outcome {
    unique_fd fd;
    int error = 0;
};
bind_outcome bind_udp(const ip_endpoint& local) noexcept;

/// An RTP socket on an even port and its RTCP socket on the next one.
struct bound_pair {
    std::uint16_t rtp_port = 0;
    unique_fd rtp;
    unique_fd rtcp;
    std::string error;  ///< empty on success
};

/// Takes pairs from `pool` until one binds on `local`'s address (its port is
/// ignored). A pair someone else holds (EADDRINUSE) goes back to the pool's
/// queue and the next is tried, at most free_pairs() times; any other bind
/// error ends the attempt. On failure the pool is as it was.
bound_pair bind_pair(port_pool& pool, const ip_endpoint& local);

/// Takes the pair of RTP port `rtp_port` from `pool` (port_pool::reserve) and
/// binds it on `local`'s address (its port is ignored). On failure, an error
/// naming the port (not a pair of the pool, in use, or the bind error) and
/// the pool as it was.
bound_pair bind_pair_at(port_pool& pool, const ip_endpoint& local, std::uint16_t rtp_port);

}  // namespace sbc::dataplane::kernel
