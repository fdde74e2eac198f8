// How the SBC addresses a request to one of a trunk's targets
// (sbc/trunking/peer_table.hpp).
//
// Towards a peer given by name, the Request-URI and To carry the name: RFC
// 3263 resolves the URI the SBC dialled to the next hop, it does not replace
// that URI, and a platform that routes on its own host name (the cloud
// platforms do) expects it there. The packet goes to the resolved target:
// nta's route URL (the "next hop"). Towards a peer given by address, both are
// that address, as they always were.
#pragma once

#include <string>

#include "sbc/config/config.hpp"
#include "sbc/trunking/peer_table.hpp"

namespace sbc::b2bua {

struct peer_route {
    /// "sip:USER@HOST:PORT;transport=T" of an address, or the configured
    /// URI of a name with the user put in ("sips:USER@carrier.example.net").
    std::string ruri;
    /// The host the To URI names: the address (IPv6 in brackets) or the name.
    std::string to_host;
    /// "sip:IP:PORT;transport=T" of the target for a named peer (where nta
    /// sends the request); empty for an address, which the URI names.
    std::string next_hop;
};

/// The route of a request to target `t` of peer `peer`; `user` may be
/// empty (no user part, e.g. OPTIONS).
peer_route route_to(const config::peer_config& peer, const trunking::target& t,
                    const std::string& user);

/// "sip:USER@HOST:PORT;transport=T" (no user part for an empty `user`, no
/// transport parameter for UDP, RFC 3261 19.1.1).
std::string address_uri(const std::string& user, const std::string& host, std::uint16_t port,
                        config::transport proto);

/// For logs: "sip:127.0.1.2:5060;transport=udp" for an address (as the
/// configuration writes it), "sip:carrier.example.net (udp 192.0.2.7:5060)"
/// for a target of a name.
std::string describe(const config::peer_config& peer, const trunking::target& t);

}  // namespace sbc::b2bua
