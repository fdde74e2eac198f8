#include "sbc/service/b2bua_status.hpp"

#include "sbc/b2bua/b2bua.hpp"

namespace sbc::service {

summary summarize(b2bua::b2bua& b, bool clustered) {
    summary s;
    s.calls = b.call_count();
    const auto peers = b.count_peers_up();
    s.peers_up = peers.up;
    s.peers_total = peers.total;
    if (clustered) {
        s.cluster_active = b.active();
    }
    if (const auto drain = b.status().drain) {
        s.draining = true;
        s.drain_seconds_left = drain->seconds_left;
    }
    return s;
}

}  // namespace sbc::service
