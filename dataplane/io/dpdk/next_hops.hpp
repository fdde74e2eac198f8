// Which MAC address each media peer is reached at, as the workers' neighbour
// tables must hold it. A peer on the media address's link is its own next
// hop, and the kernel's neighbour table (followed over netlink) has its MAC.
// A peer behind a gateway is not in that table: the kernel knows the
// gateway's MAC instead. This keeps, for each off-link peer in use, the
// gateway the kernel's route names, and tells the workers "this peer: the
// gateway's MAC" whenever either side of that changes, so media to a
// carrier behind a router leaves from the worker like any other.
//
// Control thread only. Pure bookkeeping: the route lookup (netlink) and the
// commands to the workers are the caller's, through `post`.
#pragma once

#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>

#include "dataplane/io/dpdk/neighbor_table.hpp"

namespace sbc::dataplane::dpdk {

struct ip_key_hash {
    std::size_t operator()(const ip_key& k) const noexcept {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        std::memcpy(&a, k.bytes.data(), 8);
        std::memcpy(&b, k.bytes.data() + 8, 8);
        return std::hash<std::uint64_t>()(a * 0x9E3779B97F4A7C15ULL ^ b);
    }
};

class next_hops {
public:
    /// What the workers must learn: `ip` is reached at `mac`, or (null) no
    /// longer known.
    using post_fn = std::function<void(const ip_key& ip, const mac_address* mac)>;

    /// The kernel's neighbour entry for `ip` changed (null: gone).
    void neighbor(const ip_key& ip, const mac_address* mac, const post_fn& post) {
        if (mac != nullptr) {
            _macs[ip] = *mac;
        } else {
            _macs.erase(ip);
        }
        post(ip, mac);
        for (const auto& [peer, r] : _routed) {
            if (r.gateway == ip) {
                post(peer, mac);
            }
        }
    }

    /// A session starts sending to `peer`, which the kernel routes through
    /// `gateway` (nullopt: on-link, nothing to do). Counted per use.
    void use(const ip_key& peer, const std::optional<ip_key>& gateway, const post_fn& post) {
        if (!gateway || *gateway == peer) {
            return;
        }
        auto [it, added] = _routed.try_emplace(peer, routed{*gateway, 0});
        ++it->second.users;
        if (!added && it->second.gateway == *gateway) {
            return;
        }
        it->second.gateway = *gateway;  // new, or the route changed
        const auto mac = _macs.find(*gateway);
        post(peer, mac != _macs.end() ? &mac->second : nullptr);
    }

    /// A session stops sending to `peer` (after use()).
    void release(const ip_key& peer, const post_fn& post) {
        const auto it = _routed.find(peer);
        if (it == _routed.end() || --it->second.users > 0) {
            return;
        }
        _routed.erase(it);
        if (_macs.count(peer) == 0) {
            post(peer, nullptr);
        }
    }

    std::size_t routed_peers() const noexcept { return _routed.size(); }

private:
    struct routed {
        ip_key gateway;
        unsigned users = 0;
    };
    std::unordered_map<ip_key, mac_address, ip_key_hash> _macs;  // the kernel's neighbours
    std::unordered_map<ip_key, routed, ip_key_hash> _routed;     // off-link peers in use
};

}  // namespace sbc::dataplane::dpdk
