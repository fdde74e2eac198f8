// Internal to sbc/config: the address forms the YAML accepts.
//
//   IP literal   "127.0.1.1", "2001:db8::1" (inet_pton)
//   listener     "udp://127.0.1.1:5060", "tcp://[2001:db8::1]:5060"
//   trunk peer   "sip:127.0.1.2:5060;transport=tcp", "sip:[2001:db8::1]",
//                "127.0.1.2:5060", "127.0.1.2", or any of these with a host
//                name, "sips:sip.example.com", resolved by RFC 3263
//   host name    "sbc.example.com" (RFC 1123 labels; RFC 3261 25.1 hostname)
// A missing port means 5060 (RFC 3261 19.1.2). Every parser returns the text
// of what was expected on failure; the caller adds the path and "(got ...)".
// Peers and host names are parsed by sbc/dns (peer_name.hpp), whose names
// they are: one grammar for what the configuration takes and what RFC 3263
// resolves.
#pragma once

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace sbc::config::detail {

struct ip_address {
    int family = 0;                         ///< AF_INET or AF_INET6
    std::array<unsigned char, 16> bytes{};  ///< network order; IPv4 uses the first 4
    std::string text;                       ///< canonical form (inet_ntop), no brackets

    bool is_unspecified() const noexcept;  ///< 0.0.0.0 or ::
    bool operator==(const ip_address& other) const noexcept {
        return family == other.family && bytes == other.bytes;
    }
};

/// An IPv4 or IPv6 literal without brackets; nothing for anything else.
std::optional<ip_address> parse_ip(std::string_view text);

/// A host name as dns::is_hostname() takes it: dot-separated labels of
/// letters, digits and hyphens, 1 to 63 characters each, none starting or
/// ending with a hyphen, the last beginning with a letter (so that no IPv4
/// address passes for a name), at most 253 characters; a trailing dot is
/// dropped. Lower-cased (RFC 4343: names compare without case). Nothing for
/// anything else.
std::optional<std::string> parse_host_name(std::string_view text);

/// "udp://IP[:PORT]", "tcp://IP[:PORT]" or "tls://IP[:PORT]" (default port
/// 5061), IPv6 in brackets.
result<listen_uri> parse_listen(std::string_view text);

/// "sip:HOST[:PORT][;transport=udp|tcp|tls]", "sips:HOST[:PORT]" (TLS,
/// default port 5061) or the sip: form without "sip:"; HOST is an IP
/// literal (IPv6 in brackets) or a host name. dns::parse_peer_name() reads
/// it; its sentences say what was expected.
result<peer_config> parse_peer(std::string_view text);

/// A DNS server: "IP", "IP:PORT" or "[IPv6]:PORT" (port 53 when absent).
result<dns_server> parse_dns_server(std::string_view text);

/// Where a cluster's Redis server listens: "IP", "IP:PORT", "[IPv6]:PORT"
/// (port 6379 when absent) or "unix:/absolute/path" (at most 107 bytes),
/// given back as "IP:PORT", "[IPv6]:PORT" or "unix:/path". A host name is
/// refused with the reason.
result<std::string> parse_store_address(std::string_view text);

/// Where the Prometheus exporter listens: "IP:PORT" or "[IPv6]:PORT", the
/// port required; given back in that form, canonical (what civetweb binds).
result<std::string> parse_metrics_listen(std::string_view text);

/// "IP/PREFIX" or a bare IP (a block of one); host bits must be zero, so
/// that "203.0.113.7/24" (likely a typo) is refused rather than widened.
result<cidr> parse_cidr(std::string_view text);

}  // namespace sbc::config::detail
