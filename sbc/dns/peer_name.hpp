// A SIP peer as the configuration names it, parsed for RFC 3263: the host
// (a name, or an IP literal that resolves to itself), and what the URI says
// of port and transport, which decides where resolution starts (RFC 3263
// 4.1, 4.2: an explicit port -> A/AAAA; otherwise an explicit transport ->
// SRV for it; neither -> NAPTR).
//
// Accepted forms: "sip:host", "sips:host", "sip:host:port",
// "sip:host;transport=udp|tcp|tls", "sips:host;transport=tcp|tls",
// "host[:port]" (as sip:), and IPv6 literals in brackets. Anything else
// (user parts, URI headers, other parameters, a host that is no RFC 3261
// hostname) is refused with a sentence saying what was expected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sbc/common/result.hpp"
#include "sbc/dns/target.hpp"

namespace sbc::dns {

struct peer_name {
    std::string host;  ///< lower case, no trailing dot; an IP literal without brackets
    bool is_ip = false;
    int family = 0;  ///< AF_INET or AF_INET6 when is_ip
    bool sips = false;
    std::optional<std::uint16_t> port;
    std::optional<transport> proto;  ///< from ;transport= (tls for a sips: URI's tcp)

    /// The canonical text ("sips:pbx.example.com;transport=tls",
    /// "sip:[2001:db8::1]:5080"): equal peers have equal text.
    std::string text() const;

    /// The transport when the URI decides it without DNS (RFC 3263 4.1:
    /// an explicit transport; otherwise, with an IP literal or a port, UDP
    /// for sip: and TLS for sips:).
    transport default_transport() const noexcept;
};

result<peer_name> parse_peer_name(std::string_view text);

/// True for an RFC 3261 25.1 hostname (labels of letters, digits and inner
/// hyphens, the last beginning with a letter; 253 characters at most).
bool is_hostname(std::string_view name) noexcept;

}  // namespace sbc::dns
