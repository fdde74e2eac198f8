#include "sbc/b2bua/peer_route.hpp"

#include <fmt/format.h>

#include "sbc/b2bua/sip_interface.hpp"

namespace sbc::b2bua {

std::string address_uri(const std::string& user, const std::string& host, std::uint16_t port,
                        config::transport proto) {
    return fmt::format("sip:{}{}{}:{}{}", user, user.empty() ? "" : "@", uri_host(host), port,
                       proto == config::transport::udp
                           ? ""
                           : fmt::format(";transport={}", transport_param(proto)));
}

peer_route route_to(const config::peer_config& peer, const trunking::target& t,
                    const std::string& user) {
    peer_route r;
    if (!peer.is_name) {
        r.ruri = address_uri(user, t.host, t.port, t.proto);
        r.to_host = uri_host(t.host);
        return r;
    }
    // The URI as configured ("sip:name", "sips:name:5061",
    // "sip:name;transport=tcp"): what it leaves out, DNS decided.
    r.ruri = config::to_string(peer);
    if (!user.empty()) {
        r.ruri.insert(r.ruri.find(':') + 1, user + "@");
    }
    r.to_host = peer.host;
    r.next_hop = address_uri("", t.host, t.port, t.proto);
    return r;
}

std::string describe(const config::peer_config& peer, const trunking::target& t) {
    if (!peer.is_name) {
        return config::to_string(peer);
    }
    return fmt::format("{} ({} {}:{})", config::to_string(peer), transport_param(t.proto),
                       uri_host(t.host), t.port);
}

}  // namespace sbc::b2bua
