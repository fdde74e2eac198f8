#include "sbc/policy/peer_acl.hpp"

namespace sbc::policy {

peer_acl::peer_acl(const config::config& cfg) {
    for (const auto& t : cfg.trunks) {
        for (const auto& p : t.peers) {
            if (auto ep = dataplane::ip_endpoint::from_string(p.host, 0)) {
                _entries.push_back({t.interface, *ep, &t});
            }
        }
    }
}

const config::trunk_config* peer_acl::trunk_for(std::string_view interface,
                                                const dataplane::ip_endpoint& source) const {
    if (!source.valid()) {
        return nullptr;
    }
    auto addr = source;
    addr.set_port(0);
    for (const auto& e : _entries) {
        if (e.interface == interface && e.address == addr) {
            return e.trunk;
        }
    }
    return nullptr;
}

}  // namespace sbc::policy
