// Which trunk a request comes from, judged by its source address.
//
// An SBC answers only the peers it is configured for: a request whose source
// IP is no peer of a trunk on the interface it arrived at is refused (403)
// before any state is created. Ports are not compared: a peer's TCP
// connections come from ephemeral ports.
//
// Built from the trunks' peer tables (sbc/trunking), so that it follows
// the resolution of peers given by name (RFC 3263): a table's current
// targets are accepted, and a target its name no longer leads to only while
// calls still use it. The b2bua builds it anew whenever that changes; a
// value, cheap to replace.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/config/config.hpp"
#include "sbc/trunking/peer_table.hpp"

namespace sbc::policy {

class peer_acl {
public:
    /// A target no longer current that calls still use: its trunk's name
    /// and its index in that trunk's table.
    using target_ref = std::pair<std::string, std::size_t>;

    /// Accepts nothing.
    peer_acl() = default;
    /// Accepts, on each trunk's interface, the addresses of the current
    /// targets of `tables` (keyed by trunk name) and of the targets in
    /// `in_use`. The tables' trunks must outlive the ACL.
    explicit peer_acl(const std::map<std::string, trunking::peer_table>& tables,
                      const std::set<target_ref>& in_use = {});

    /// The trunk on `interface` one of whose peers has `source`'s address, or nullptr.
    const config::trunk_config* trunk_for(std::string_view interface,
                                          const dataplane::ip_endpoint& source) const;

private:
    struct entry {
        std::string interface;
        dataplane::ip_endpoint address;  ///< port 0: only the address is compared
        const config::trunk_config* trunk;
    };
    std::vector<entry> _entries;
};

}  // namespace sbc::policy
