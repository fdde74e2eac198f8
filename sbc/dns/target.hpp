// What resolving a SIP peer's name yields (RFC 3263 4): an ordered list of
// targets, each an address, port and transport with the SRV priority and
// weight it came with, and how long the answer may be used.
//
// Plain values, free of sofia and of sbc/config: the trunk's peer table
// takes `priority` and `weight` as its own peers' (lowest priority first, a
// weighted random choice among equals, RFC 2782), so the resolver reports
// them and leaves the shuffling to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbc::dns {

enum class transport : std::uint8_t { udp, tcp, tls };

/// "udp", "tcp" or "tls", as in a SIP URI's transport parameter.
std::string_view to_string(transport t) noexcept;

/// The port a transport uses when nothing names one (RFC 3261 19.1.2:
/// 5060, and 5061 for TLS).
constexpr std::uint16_t default_port(transport t) noexcept {
    return t == transport::tls ? 5061 : 5060;
}

struct target {
    std::string address;  ///< canonical IP literal, without brackets
    int family = 0;       ///< AF_INET or AF_INET6
    std::uint16_t port = 0;
    transport proto = transport::udp;
    /// Lower first. The rank of the NAPTR record (or of the transport, when
    /// SRV records were asked for without NAPTR) in the high 16 bits, the
    /// SRV priority in the low 16, so a less preferred transport never
    /// mixes with a preferred one. One value for every address of an answer
    /// without SRV records.
    std::uint32_t priority = 0;
    /// RFC 2782 weight among the targets of one priority; 0 is "only when
    /// nothing else is left". Every address of an SRV target carries its
    /// record's weight.
    std::uint16_t weight = 0;
    /// The name whose A/AAAA record gave the address (the SRV target, or
    /// the peer's own host), for logs and `sbcctl trunks`. A TLS peer's
    /// identity is still the name the peer was configured with (RFC 5922 4).
    std::string host;

    bool operator==(const target&) const = default;
};

/// "udp 192.0.2.1:5060 prio 10 weight 20 (sip1.example.com)", for logs.
std::string to_string(const target& t);

/// One complete answer for a peer name.
struct resolution {
    std::vector<target> targets;  ///< ordered: priority ascending, see order_targets()
    /// The smallest TTL of the records the answer was built from (RFC 3263
    /// leaves each record to its own TTL; an answer built of several lasts
    /// as long as its shortest-lived part).
    std::chrono::seconds ttl{0};
};

}  // namespace sbc::dns
