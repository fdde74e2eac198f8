// Which trunk a request comes from, judged by its source address.
//
// An SBC answers only the peers it is configured for: a request whose source
// IP is no peer of a trunk on the interface it arrived at is refused (403)
// before any state is created. Ports are not compared: a peer's TCP
// connections come from ephemeral ports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/config/config.hpp"

namespace sbc::policy {

class peer_acl {
public:
    /// `cfg` must outlive the ACL.
    explicit peer_acl(const config::config& cfg);

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
