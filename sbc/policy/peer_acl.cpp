#include "sbc/policy/peer_acl.hpp"

#include <algorithm>

namespace sbc::policy {

peer_acl::peer_acl(const std::map<std::string, trunking::peer_table>& tables,
                   const std::set<target_ref>& in_use) {
    // In the order of the configuration's trunks, as the ACL always was:
    // when two trunks on one interface share an address, the first wins.
    std::vector<const trunking::peer_table*> ordered;
    for (const auto& [name, table] : tables) {
        ordered.push_back(&table);
    }
    std::sort(ordered.begin(), ordered.end(),
              [](const auto* a, const auto* b) { return &a->trunk() < &b->trunk(); });
    for (const auto* table : ordered) {
        const auto& trunk = table->trunk();
        for (std::size_t i = 0; i < table->size(); ++i) {
            const auto& t = table->target_at(i);
            if (!t.current && in_use.count({trunk.name, i}) == 0) {
                continue;
            }
            if (auto ep = dataplane::ip_endpoint::from_string(t.host, 0)) {
                _entries.push_back({trunk.interface, *ep, &trunk});
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
