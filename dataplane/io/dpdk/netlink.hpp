// The host kernel's side of the dpdk backend, through rtnetlink (RFC 3549):
// the media address put on a port's exception (TAP) interface, so that SIP,
// ARP and ND keep working on that address in the kernel; and the kernel's
// neighbour table, read so the workers know each next hop's MAC address.
//
// Control thread only; the socket is non-blocking and read from poll(),
// which the control thread's event loop calls once it is readable.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/io/dpdk/neighbor_table.hpp"
#include "sbc/common/result.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::dataplane::dpdk {

/// Adds `address`/`prefix` to interface `ifindex` (replacing it if there)
/// and sets the interface up. Errors name the interface and the reason.
result<bool> add_address(unsigned ifindex, const ip_endpoint& address, unsigned prefix);

/// The gateway through which the kernel's routes reach `destination` out of
/// interface `ifindex`, or nullopt when the destination is on that link
/// (RTM_GETROUTE). An error when no route leaves through the interface.
result<std::optional<ip_key>> gateway_to(unsigned ifindex, const ip_endpoint& destination);

/// Follows the kernel's neighbour table on a set of interfaces.
class neighbor_watch {
public:
    /// A usable entry (reachable, stale, delay, probe, permanent or noarp
    /// with a MAC), or `mac` null when the kernel dropped or failed it.
    using update_fn = std::function<void(const ip_key& ip, const mac_address* mac)>;

    /// Subscribes to neighbour changes and asks for a dump of the table.
    static result<neighbor_watch> open(std::vector<unsigned> ifindexes);

    /// Reads what the kernel sent since the last call; never blocks.
    void poll(const update_fn& update);

    /// The netlink socket, readable when poll() has something to read, for
    /// the control thread's event loop to wait on. Owned by the watch.
    int fd() const noexcept { return _fd.get(); }

private:
    neighbor_watch(unique_fd fd, std::vector<unsigned> ifindexes)
        : _fd(std::move(fd)), _ifindexes(std::move(ifindexes)) {}
    unique_fd _fd;
    std::vector<unsigned> _ifindexes;
};

}  // namespace sbc::dataplane::dpdk
