// The one line sbcd shows systemd as its STATUS= (systemctl status sbcd):
// what an operator wants at a glance, the calls up, how many of the trunks'
// peers answer, the node's cluster role and a drain under way. Plain data
// in, text out: no systemd, no sofia.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace sbc::service {

/// What the line says; filled by sbcd from the b2bua on the loop.
struct summary {
    std::size_t calls = 0;
    std::size_t peers_up = 0;     ///< the trunks' configured peers that are up
    std::size_t peers_total = 0;  ///< the trunks' configured peers
    /// The node's role in its cluster (true: active); none without a cluster.
    std::optional<bool> cluster_active;
    bool draining = false;
    /// To the drain's deadline; none without a deadline (or not draining).
    std::optional<double> drain_seconds_left;
};

/// "12 calls, 3 of 4 peers up, cluster active", with ", draining (deadline
/// in 840 s)" after it during a drain.
std::string status_line(const summary& s);

}  // namespace sbc::service
