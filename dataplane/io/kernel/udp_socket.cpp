// bind_udp / bind_pair: the only place the kernel backend creates sockets.
#include "dataplane/io/kernel/udp_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sbc::dataplane::kernel {

bind_outcome bind_udp(const ip_endpoint& local) noexcept {
    bind_outcome out;
    unique_fd fd(::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!fd) {
        out.error = errno;
        return out;
    }
    if (local.family() == AF_INET6) {
        // An IPv6 socket would otherwise also take the port on every IPv4
        // address, colliding with the IPv4 sessions of the same pool.
        const int on = 1;
        if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
            out.error = errno;
            return out;
        }
    }
    // A standby node of a redundant pair binds the shared media addresses
    // before keepalived (VRRP) moves them to it, so that the peers' media
    // reaches the rebuilt sessions the moment the address arrives: bind
    // even to an address no interface holds yet (ip(7) IP_FREEBIND,
    // ipv6(7) IPV6_FREEBIND, Linux 4.15; no privilege needed). A kernel
    // without it still binds local addresses, and says EADDRNOTAVAIL for
    // the others: the option's own failure is no reason to stop here.
    const int freebind = 1;
    const bool v6 = local.family() == AF_INET6;
    (void)::setsockopt(fd.get(), v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND,
                       &freebind, sizeof(freebind));
    if (::bind(fd.get(), local.sockaddr_ptr(), local.sockaddr_len()) != 0) {
        out.error = errno;
        return out;
    }
    out.fd = std::move(fd);
    return out;
}

namespace {

std::string range_text(const port_pool& pool) {
    return std::to_string(pool.first_rtp()) + "-" + std::to_string(pool.last_rtp() + 1);
}

}  // namespace

bound_pair bind_pair_at(port_pool& pool, const ip_endpoint& local, std::uint16_t rtp_port) {
    bound_pair out;
    ip_endpoint rtp_addr = local;
    rtp_addr.set_port(rtp_port);
    if (!pool.reserve(rtp_port)) {
        out.error = pool.in_use(rtp_port) ? "media port " + rtp_addr.to_string() + " is in use"
                                          : "media port " + std::to_string(rtp_port) +
                                                " is no RTP port of the range " + range_text(pool);
        return out;
    }
    ip_endpoint rtcp_addr = local;
    rtcp_addr.set_port(static_cast<std::uint16_t>(rtp_port + 1));
    auto rtp = bind_udp(rtp_addr);
    auto rtcp = rtp.fd ? bind_udp(rtcp_addr) : bind_outcome{};
    if (!rtp.fd || !rtcp.fd) {
        pool.release(rtp_port);
        const auto& failed = rtp.fd ? rtcp_addr : rtp_addr;
        out.error = "cannot bind media port " + failed.to_string() + ": " +
                    std::strerror(rtp.fd ? rtcp.error : rtp.error);
        return out;
    }
    out.rtp_port = rtp_port;
    out.rtp = std::move(rtp.fd);
    out.rtcp = std::move(rtcp.fd);
    return out;
}

bound_pair bind_pair(port_pool& pool, const ip_endpoint& local) {
    bound_pair out;
    const auto attempts = pool.free_pairs();
    for (std::size_t i = 0; i < attempts; ++i) {
        const auto port = pool.allocate();
        if (!port) {
            break;
        }
        ip_endpoint rtp_addr = local;
        rtp_addr.set_port(*port);
        ip_endpoint rtcp_addr = local;
        rtcp_addr.set_port(static_cast<std::uint16_t>(*port + 1));
        auto rtp = bind_udp(rtp_addr);
        auto rtcp = rtp.fd ? bind_udp(rtcp_addr) : bind_outcome{};
        if (rtp.fd && rtcp.fd) {
            out.rtp_port = *port;
            out.rtp = std::move(rtp.fd);
            out.rtcp = std::move(rtcp.fd);
            return out;
        }
        pool.release(*port);
        const int err = rtp.fd ? rtcp.error : rtp.error;
        if (err != EADDRINUSE) {
            const auto& failed = rtp.fd ? rtcp_addr : rtp_addr;
            out.error = "cannot bind media port " + failed.to_string() + ": " + std::strerror(err);
            return out;
        }
    }
    if (pool.capacity() == 0) {
        out.error = "the media port range holds no RTP/RTCP pair";
    } else {
        out.error = "no free media port pair in " + range_text(pool) + " on " + local.address();
    }
    return out;
}

}  // namespace sbc::dataplane::kernel
